#include "tools/scheduler_accounting.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <map>
#include <regex>
#include <sstream>

#include "base/error.h"
#include "tools/text.h"

namespace ember::tools {
namespace {

// Seconds since the epoch of a time as LSF ("Mon Jun 12 11:16:59 2023", or "Mon Jun 12 11:16:59" without the
// year in bjobs/bhist event lines) or Slurm ("2023-06-12T11:16:59") print it; -1 when it is neither.
double parse_time(const std::string& text) {
  for (const char* format : {"%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S", "%a %b %d %H:%M:%S"}) {
    std::tm tm{};
    tm.tm_year = 100;  // a year for the year-less form: differences within one job stay right
    const char* end = strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') {
      tm.tm_isdst = 0;
      return static_cast<double>(timegm(&tm));
    }
  }
  return -1;
}

double difference_s(const std::string& from, const std::string& to) {
  const double a = parse_time(from), b = parse_time(to);
  return a >= 0 && b >= 0 ? b - a : -1;
}

constexpr std::regex::flag_type kLines = std::regex::ECMAScript | std::regex::multiline;  // ^ and $ at lines

// Each pattern compiled once per thread: building a std::regex costs far more than a search of a job report
// (the fuzz target ran ~60 inputs/s when every call compiled its ~20 patterns).
const std::regex& cached_regex(const std::string& pattern, std::regex::flag_type flags = std::regex::ECMAScript) {
  thread_local std::map<std::pair<std::string, std::regex::flag_type>, std::regex> cache;
  const auto key = std::make_pair(pattern, flags);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, std::regex(pattern, flags)).first;
  return it->second;
}

std::string match(const std::string& text, const std::regex& re, int group = 1) {
  std::smatch m;
  return std::regex_search(text, m, re) ? m[group].str() : std::string();
}

// A number the scheduler printed; anything else ("1.2.3", "St9", 400 digits) is an error naming the file and the
// field, not std::stod's bare "stod".
double parse_number(const std::string& text, const char* what, const std::string& source) {
  char* end = nullptr;
  errno = 0;
  const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  EMBER_CHECK(!text.empty() && end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(v), source, ": ",
              what, " '", text, "' is not a number");
  return v;
}

// A count (tasks, threads, processes): a whole number below 2^53, which converts to int64 exactly.
int64_t parse_count(const std::string& text, const char* what, const std::string& source) {
  const double v = parse_number(text, what, source);
  EMBER_CHECK(v >= 0 && v < 9007199254740992.0 && v == std::floor(v), source, ": ", what, " '", text,
              "' is not a count");
  return static_cast<int64_t>(v);
}

// The field's value, or -1 when the text does not give it.
double number_or_missing(const std::string& s, const char* what, const std::string& source) {
  return s.empty() ? -1 : parse_number(s, what, source);
}
int64_t count_or_missing(const std::string& s, const char* what, const std::string& source) {
  return s.empty() ? -1 : parse_count(s, what, source);
}

// "4*hgn47" (4 slots on hgn47) -> "hgn47".
std::string host_of(const std::string& token) {
  const size_t star = token.find('*');
  return star == std::string::npos ? token : token.substr(star + 1);
}

std::vector<std::string> hosts_in(const std::string& list) {
  std::vector<std::string> hosts;
  static const std::regex host(R"(<([^>]+)>)");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), host); it != std::sregex_iterator(); ++it) {
    const std::string h = host_of((*it)[1].str());
    if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
  }
  return hosts;
}

// bjobs -l's "MAX MEM: 3277 Mbytes" (or Kbytes, Gbytes) in MiB; -1 when absent.
double lsf_mebibytes(const std::string& text, const std::string& label, const std::string& source) {
  std::smatch m;
  if (!std::regex_search(text, m, cached_regex(label + R"(: ([\d.]+) ([KMG])bytes)"))) return -1;
  const double value = parse_number(m[1].str(), label.c_str(), source);
  return m[2].str() == "K" ? value / 1024 : m[2].str() == "G" ? value * 1024 : value;
}

// LSF: the bsub -o job report, bhist -l and bjobs -l, whichever lines are there.
std::vector<JobAccounting> parse_lsf(std::string text, const std::string& source) {
  // bjobs/bhist -l wrap long lines at 80 columns, continuing after 21 spaces.
  text = std::regex_replace(text, cached_regex(R"(\n {21})"), "");
  JobAccounting a;
  a.scheduler = "lsf";
  a.job_id = match(text, cached_regex(R"((?:Subject: Job |^Job <)(\d+))", kLines));
  // Job report.
  a.submitted = match(text, cached_regex(R"(was submitted from host <[^>]*>.* at (\w{3} \w{3} +\d+ [\d:]+ \d{4}))"));
  a.started = match(text, cached_regex(R"(^Started at (.+)$)", kLines));
  a.finished = match(text, cached_regex(R"(^Terminated at (.+)$)", kLines));
  a.hosts = hosts_in(match(text, cached_regex(R"(executed on host\(s\) ((?:<[^>]+>,? ?)+))")));
  const std::string number = R"(\s*:\s*([\d.]+))";
  a.cpu_s = number_or_missing(match(text, cached_regex("CPU time" + number + " sec")), "CPU time", source);
  a.max_memory_mib = number_or_missing(match(text, cached_regex("Max Memory" + number + " MB")), "Max Memory", source);
  a.avg_memory_mib =
      number_or_missing(match(text, cached_regex("Average Memory" + number + " MB")), "Average Memory", source);
  a.max_processes = count_or_missing(match(text, cached_regex("Max Processes" + number)), "Max Processes", source);
  a.max_threads = count_or_missing(match(text, cached_regex("Max Threads" + number)), "Max Threads", source);
  a.run_s = number_or_missing(match(text, cached_regex("Run time" + number + " sec")), "Run time", source);
  a.turnaround_s =
      number_or_missing(match(text, cached_regex("Turnaround time" + number + " sec")), "Turnaround time", source);
  // bjobs -l / bhist -l event lines: "Mon Jun 12 11:16:59: Submitted from host <login1>, ..."
  const std::string event = R"(^(\w{3} \w{3} +\d+ [\d:]+(?: \d{4})?): )";
  if (a.submitted.empty()) a.submitted = match(text, cached_regex(event + "Submitted from", kLines));
  if (a.started.empty()) a.started = match(text, cached_regex(event + R"((?:Started|Dispatched) \d+ Task)", kLines));
  if (a.finished.empty()) a.finished = match(text, cached_regex(event + R"((?:Done successfully|Exited))", kLines));
  if (a.hosts.empty())
    a.hosts =
        hosts_in(match(text, cached_regex(R"((?:Started|Dispatched) \d+ Task\(s\) on Host\(s\) ((?:<[^>]+>,? ?)+))")));
  if (a.cpu_s < 0)
    a.cpu_s =
        number_or_missing(match(text, cached_regex(R"(The CPU time used is ([\d.]+) seconds)")), "CPU time", source);
  if (a.max_memory_mib < 0) a.max_memory_mib = lsf_mebibytes(text, "MAX MEM", source);
  if (a.avg_memory_mib < 0) a.avg_memory_mib = lsf_mebibytes(text, "AVG MEM", source);
  if (a.max_threads < 0)
    a.max_threads = count_or_missing(match(text, cached_regex(R"(NTHREAD: (\d+))")), "NTHREAD", source);
  // bhist -l's summary: a header row of states, then their seconds.
  std::smatch m;
  if (std::regex_search(
          text, m,
          cached_regex(
              R"(PEND\s+PSUSP\s+RUN\s+USUSP\s+SSUSP\s+UNKWN\s+TOTAL\s*\n\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+))"))) {
    a.wait_s = parse_number(m[1].str(), "bhist PEND", source);
    if (a.run_s < 0) a.run_s = parse_number(m[3].str(), "bhist RUN", source);
    if (a.turnaround_s < 0) a.turnaround_s = parse_number(m[7].str(), "bhist TOTAL", source);
  }
  if (a.wait_s < 0) a.wait_s = difference_s(a.submitted, a.started);
  if (a.run_s < 0) a.run_s = difference_s(a.started, a.finished);
  if (a.turnaround_s < 0) a.turnaround_s = difference_s(a.submitted, a.finished);
  return {a};
}

// "[D-][HH:]MM:SS[.mmm]" (sacct's Elapsed and TotalCPU) -> seconds; -1 when empty.
double slurm_duration_s(const std::string& s, const std::string& source) {
  if (s.empty()) return -1;
  double days = 0;
  std::string rest = s;
  if (const size_t dash = rest.find('-'); dash != std::string::npos) {
    days = parse_number(rest.substr(0, dash), "sacct duration's days", source);
    rest = rest.substr(dash + 1);
  }
  double seconds = 0;
  for (const std::string& part : split_text(rest, ':')) {
    EMBER_CHECK(!part.empty() && part.find_first_not_of("0123456789.") == std::string::npos, source,
                ": sacct duration '", s, "' is not [D-][HH:]MM:SS");
    seconds = seconds * 60 + parse_number(part, "sacct duration", source);
  }
  return days * 86400 + seconds;
}

// "3277M", "123456K", "1.5G", "0" -> MiB; -1 when empty.
double slurm_memory_mib(const std::string& s, const std::string& source) {
  if (s.empty()) return -1;
  const bool unit = s.back() == 'K' || s.back() == 'M' || s.back() == 'G' || s.back() == 'T';
  const double value = parse_number(unit ? s.substr(0, s.size() - 1) : s, "sacct memory", source);
  switch (s.back()) {
    case 'K':
      return value / 1024;
    case 'G':
      return value * 1024;
    case 'T':
      return value * 1024 * 1024;
    case 'M':
      return value;
    default:
      return value / 1048576;  // bytes
  }
}

std::vector<JobAccounting> parse_sacct(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_text(line, '|');
  std::map<std::string, size_t> column;
  for (size_t k = 0; k < header.size(); ++k) column[header[k]] = k;
  EMBER_CHECK(column.count("JobID"), source, ": a sacct table needs the JobID column (header: ", line, ")");
  std::vector<JobAccounting> jobs;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> row = split_text(line, '|');
    EMBER_CHECK(row.size() >= header.size() - 1, source, ": sacct row '", line, "' has ", row.size(),
                " fields, the header ", header.size());
    auto field = [&](const char* name) {
      const auto it = column.find(name);
      return it != column.end() && it->second < row.size() ? row[it->second] : std::string();
    };
    const std::string id = field("JobID");
    const std::string job = id.substr(0, id.find('.'));
    auto it = std::find_if(jobs.begin(), jobs.end(), [&](const JobAccounting& j) { return j.job_id == job; });
    if (id == job) {  // the job's own row: times and total CPU
      JobAccounting a;
      a.scheduler = "slurm";
      a.job_id = job;
      a.submitted = field("Submit");
      a.started = field("Start");
      a.finished = field("End");
      a.wait_s = difference_s(a.submitted, a.started);
      a.run_s = slurm_duration_s(field("Elapsed"), source);
      a.turnaround_s = difference_s(a.submitted, a.finished);
      a.cpu_s = slurm_duration_s(field("TotalCPU"), source);
      const std::string nodes = field("NodeList");
      if (!nodes.empty()) a.hosts = {nodes};
      if (it == jobs.end()) jobs.push_back(a);
      else merge_job_accounting(*it, a);
      continue;
    }
    // A step (123.batch, 123.0): memory and task counts; the largest step speaks for the job.
    if (it == jobs.end()) {
      jobs.push_back(JobAccounting{});
      jobs.back().scheduler = "slurm";
      jobs.back().job_id = job;
      it = jobs.end() - 1;
    }
    it->max_memory_mib = std::max(it->max_memory_mib, slurm_memory_mib(field("MaxRSS"), source));
    it->avg_memory_mib = std::max(it->avg_memory_mib, slurm_memory_mib(field("AveRSS"), source));
    const std::string tasks = field("NTasks");
    if (!tasks.empty())
      it->max_processes = std::max<int64_t>(it->max_processes, parse_count(tasks, "sacct NTasks", source));
  }
  return jobs;
}

}  // namespace

std::vector<JobAccounting> parse_job_accounting(const std::string& text, const std::string& source) {
  if (text.rfind("JobID|", 0) == 0) return parse_sacct(text, source);
  const bool lsf = text.find("Resource usage summary") != std::string::npos ||
                   text.find("Summary of time in seconds spent in various states") != std::string::npos ||
                   std::regex_search(text, cached_regex(R"(^Job <\d+>, )", kLines));
  if (!lsf) return {};
  std::vector<JobAccounting> jobs = parse_lsf(text, source);
  EMBER_CHECK(!jobs.front().job_id.empty(), source, ": LSF output without a job id ('Subject: Job N:' or 'Job <N>')");
  return jobs;
}

void merge_job_accounting(JobAccounting& into, const JobAccounting& from) {
  auto text = [](std::string& a, const std::string& b) {
    if (a.empty()) a = b;
  };
  auto value = [](auto& a, auto b) {
    if (a < 0) a = b;
  };
  text(into.scheduler, from.scheduler);
  text(into.job_id, from.job_id);
  text(into.submitted, from.submitted);
  text(into.started, from.started);
  text(into.finished, from.finished);
  if (into.hosts.empty()) into.hosts = from.hosts;
  value(into.wait_s, from.wait_s);
  value(into.run_s, from.run_s);
  value(into.turnaround_s, from.turnaround_s);
  value(into.cpu_s, from.cpu_s);
  value(into.max_memory_mib, from.max_memory_mib);
  value(into.avg_memory_mib, from.avg_memory_mib);
  value(into.max_processes, from.max_processes);
  value(into.max_threads, from.max_threads);
}

}  // namespace ember::tools
