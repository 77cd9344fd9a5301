#include "tools/rank_figures.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"
#include "engine/cuda_backend.h"
#include "engine/tensor.h"
#include "tools/text.h"

namespace ember::tools {

namespace {

// FNV-1a, 64 bits: equal texts on every rank give equal hashes.
int64_t text_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return static_cast<int64_t>(h);
}

// Every rank's host name, by rank.
std::vector<std::string> gather_host_names(dist::Communicator& comm) {
  constexpr int64_t kMaxName = 64;
  char name[kMaxName + 1] = {};
  gethostname(name, kMaxName);
  std::vector<int32_t> chars(name, name + kMaxName);
  const std::vector<int32_t> all =
      comm.all_gather(Tensor::from_vector<int32_t>(chars, {kMaxName})).to_vector<int32_t>();
  std::vector<std::string> names;
  for (size_t r = 0; r < all.size(); r += kMaxName) {
    std::string host;
    for (size_t k = r; k < r + kMaxName && all[k] != 0; ++k) host += static_cast<char>(all[k]);
    names.push_back(host);
  }
  return names;
}

}  // namespace

RankLayout gather_rank_layout(dist::Communicator& comm) {
  RankLayout layout;
  layout.rank = comm.rank();
  layout.world = comm.world_size();
  layout.hosts = gather_host_names(comm);
  std::map<std::string, int64_t> ranks_on_host;
  for (const std::string& h : layout.hosts) ++ranks_on_host[h];
  layout.nodes = static_cast<int64_t>(ranks_on_host.size());
  layout.ranks_per_node = 0;
  for (const auto& [host, n] : ranks_on_host) layout.ranks_per_node = std::max(layout.ranks_per_node, n);
  return layout;
}

void check_same_config(dist::Communicator& comm, const std::string& yaml) {
  const std::vector<int64_t> hashes =
      comm.all_gather(Tensor::from_vector<int64_t>({text_hash(yaml)}, {1})).to_vector<int64_t>();
  std::string differing;
  for (size_t r = 0; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (differing.empty()) return;
  Tensor length = Tensor::from_vector<int64_t>({static_cast<int64_t>(yaml.size())}, {1});
  comm.broadcast(length);
  std::vector<int32_t> chars(yaml.begin(), yaml.end());
  chars.resize(static_cast<size_t>(length.to_vector<int64_t>()[0]));
  Tensor text = Tensor::from_vector<int32_t>(chars, {static_cast<int64_t>(chars.size())});
  comm.broadcast(text);
  const std::vector<int32_t> root_chars = text.to_vector<int32_t>();
  const std::vector<std::string> mine = split_text(yaml, '\n'),
                                 root = split_text(std::string(root_chars.begin(), root_chars.end()), '\n');
  std::string diff;
  for (size_t i = 0; i < std::max(mine.size(), root.size()); ++i) {
    const std::string a = i < mine.size() ? mine[i] : "", b = i < root.size() ? root[i] : "";
    if (a != b) diff += " '" + a + "' (rank 0: '" + b + "');";
  }
  EMBER_FAIL("dist rank ", comm.rank(), ": the ranks' resolved configs differ (ranks ", differing,
             " differ from rank 0)", diff.empty() ? std::string() : ": here" + diff);
}

void sum_over_ranks(dist::Communicator& comm, std::vector<double>& values) {
  if (comm.world_size() == 1 || values.empty()) return;
  Tensor t = Tensor::from_vector<double>(values, {static_cast<int64_t>(values.size())});
  comm.all_reduce(t, dist::ReduceOp::sum);
  values = t.to_vector<double>();
}

void read_process_figures(RankFigures& r) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.peak_host_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) r.threads = std::stoll(line.substr(8));
  r.peak_device_mib = static_cast<double>(cuda::peak_allocated_bytes()) / 1048576.0;
}

std::vector<RankFigures> gather_rank_figures(dist::Communicator& comm, const RankFigures& mine,
                                             const RankLayout& layout) {
  // Every numeric field travels as a double, in the field list's order; the host comes from the layout.
  std::vector<double> values;
  RankFigures::for_each_field(mine, [&](const char*, const auto& v, int) {
    if constexpr (!std::is_same_v<std::decay_t<decltype(v)>, std::string>) values.push_back(static_cast<double>(v));
  });
  const int64_t n = static_cast<int64_t>(values.size());
  const std::vector<double> all = comm.all_gather(Tensor::from_vector<double>(values, {n})).to_vector<double>();
  std::vector<RankFigures> ranks;
  for (int r = 0; r < comm.world_size(); ++r) {
    RankFigures f;
    const double* v = all.data() + r * n;
    RankFigures::for_each_field(f, [&](const char*, auto& member, int) {
      using T = std::decay_t<decltype(member)>;
      if constexpr (!std::is_same_v<T, std::string>) member = static_cast<T>(*v++);
    });
    f.rank = r;
    f.host = layout.hosts[static_cast<size_t>(r)];
    ranks.push_back(f);
  }
  return ranks;
}

}  // namespace ember::tools
