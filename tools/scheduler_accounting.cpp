#include "tools/scheduler_accounting.h"

#include <algorithm>
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

std::string match(const std::string& text, const std::regex& re, int group = 1) {
  std::smatch m;
  return std::regex_search(text, m, re) ? m[group].str() : std::string();
}

double number_or(const std::string& s, double missing = -1) { return s.empty() ? missing : std::stod(s); }

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
double lsf_mebibytes(const std::string& text, const std::string& label) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(label + R"(: ([\d.]+) ([KMG])bytes)"))) return -1;
  const double value = std::stod(m[1].str());
  return m[2].str() == "K" ? value / 1024 : m[2].str() == "G" ? value * 1024 : value;
}

// LSF: the bsub -o job report, bhist -l and bjobs -l, whichever lines are there.
std::vector<JobAccounting> parse_lsf(std::string text) {
  // bjobs/bhist -l wrap long lines at 80 columns, continuing after 21 spaces.
  text = std::regex_replace(text, std::regex(R"(\n {21})"), "");
  JobAccounting a;
  a.scheduler = "lsf";
  a.job_id = match(text, std::regex(R"((?:Subject: Job |^Job <)(\d+))", std::regex::multiline));
  // Job report.
  a.submitted = match(text, std::regex(R"(was submitted from host <[^>]*>.* at (\w{3} \w{3} +\d+ [\d:]+ \d{4}))"));
  a.started = match(text, std::regex(R"(^Started at (.+)$)", std::regex::multiline));
  a.finished = match(text, std::regex(R"(^Terminated at (.+)$)", std::regex::multiline));
  a.hosts = hosts_in(match(text, std::regex(R"(executed on host\(s\) ((?:<[^>]+>,? ?)+))")));
  const std::string number = R"(\s*:\s*([\d.]+))";
  a.cpu_s = number_or(match(text, std::regex("CPU time" + number + " sec")));
  a.max_memory_mib = number_or(match(text, std::regex("Max Memory" + number + " MB")));
  a.avg_memory_mib = number_or(match(text, std::regex("Average Memory" + number + " MB")));
  a.max_processes = static_cast<int64_t>(number_or(match(text, std::regex("Max Processes" + number))));
  a.max_threads = static_cast<int64_t>(number_or(match(text, std::regex("Max Threads" + number))));
  a.run_s = number_or(match(text, std::regex("Run time" + number + " sec")));
  a.turnaround_s = number_or(match(text, std::regex("Turnaround time" + number + " sec")));
  // bjobs -l / bhist -l event lines: "Mon Jun 12 11:16:59: Submitted from host <login1>, ..."
  const std::string event = R"(^(\w{3} \w{3} +\d+ [\d:]+(?: \d{4})?): )";
  if (a.submitted.empty()) a.submitted = match(text, std::regex(event + "Submitted from", std::regex::multiline));
  if (a.started.empty())
    a.started = match(text, std::regex(event + R"((?:Started|Dispatched) \d+ Task)", std::regex::multiline));
  if (a.finished.empty())
    a.finished = match(text, std::regex(event + R"((?:Done successfully|Exited))", std::regex::multiline));
  if (a.hosts.empty())
    a.hosts = hosts_in(match(text, std::regex(R"((?:Started|Dispatched) \d+ Task\(s\) on Host\(s\) ((?:<[^>]+>,? ?)+))")));
  if (a.cpu_s < 0) a.cpu_s = number_or(match(text, std::regex(R"(The CPU time used is ([\d.]+) seconds)")));
  if (a.max_memory_mib < 0) a.max_memory_mib = lsf_mebibytes(text, "MAX MEM");
  if (a.avg_memory_mib < 0) a.avg_memory_mib = lsf_mebibytes(text, "AVG MEM");
  if (a.max_threads < 0) a.max_threads = static_cast<int64_t>(number_or(match(text, std::regex(R"(NTHREAD: (\d+))"))));
  // bhist -l's summary: a header row of states, then their seconds.
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"(PEND\s+PSUSP\s+RUN\s+USUSP\s+SSUSP\s+UNKWN\s+TOTAL\s*\n\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+))"))) {
    a.wait_s = std::stod(m[1].str());
    if (a.run_s < 0) a.run_s = std::stod(m[3].str());
    if (a.turnaround_s < 0) a.turnaround_s = std::stod(m[7].str());
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
    days = std::stod(rest.substr(0, dash));
    rest = rest.substr(dash + 1);
  }
  double seconds = 0;
  for (const std::string& part : split_text(rest, ':')) {
    EMBER_CHECK(!part.empty() && part.find_first_not_of("0123456789.") == std::string::npos, source,
                ": sacct duration '", s, "' is not [D-][HH:]MM:SS");
    seconds = seconds * 60 + std::stod(part);
  }
  return days * 86400 + seconds;
}

// "3277M", "123456K", "1.5G", "0" -> MiB; -1 when empty.
double slurm_memory_mib(const std::string& s) {
  if (s.empty()) return -1;
  const double value = std::stod(s);
  switch (s.back()) {
    case 'K': return value / 1024;
    case 'G': return value * 1024;
    case 'T': return value * 1024 * 1024;
    case 'M': return value;
    default: return value / 1048576;  // bytes
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
    EMBER_CHECK(row.size() >= header.size() - 1, source, ": sacct row '", line, "' has ", row.size(), " fields, the header ",
                header.size());
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
    it->max_memory_mib = std::max(it->max_memory_mib, slurm_memory_mib(field("MaxRSS")));
    it->avg_memory_mib = std::max(it->avg_memory_mib, slurm_memory_mib(field("AveRSS")));
    const std::string tasks = field("NTasks");
    if (!tasks.empty()) it->max_processes = std::max<int64_t>(it->max_processes, std::stoll(tasks));
  }
  return jobs;
}

}  // namespace

std::vector<JobAccounting> parse_job_accounting(const std::string& text, const std::string& source) {
  if (text.rfind("JobID|", 0) == 0) return parse_sacct(text, source);
  const bool lsf = text.find("Resource usage summary") != std::string::npos ||
                   text.find("Summary of time in seconds spent in various states") != std::string::npos ||
                   std::regex_search(text, std::regex(R"(^Job <\d+>, )", std::regex::multiline));
  if (!lsf) return {};
  std::vector<JobAccounting> jobs = parse_lsf(text);
  EMBER_CHECK(!jobs.front().job_id.empty(), source, ": LSF output without a job id ('Subject: Job N:' or 'Job <N>')");
  return jobs;
}

void merge_job_accounting(JobAccounting& into, const JobAccounting& from) {
  auto text = [](std::string& a, const std::string& b) { if (a.empty()) a = b; };
  auto value = [](auto& a, auto b) { if (a < 0) a = b; };
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
