// What the ranks of a run tell each other: where they run (hosts, nodes), that they share one config, their
// sums, and each rank's figures for step_times.csv. In a world of one every function is a local no-op.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "tools/run_records.h"

namespace ember::tools {

struct RankLayout {
  int rank = 0, world = 1;
  std::vector<std::string> hosts;  // host name of each rank, by rank
  int64_t nodes = 1;               // distinct hosts
  int64_t ranks_per_node = 1;      // most ranks on one host
  bool lead() const { return rank == 0; }
};
RankLayout gather_rank_layout(dist::Communicator& comm);

// Every rank must train with the same settings (else the collectives mismatch or the ranks silently disagree).
// On a mismatch every rank throws; a differing rank names its differing lines against rank 0's config.
void check_same_config(dist::Communicator& comm, const std::string& config_yaml);

// Sums doubles over the ranks, in place.
void sum_over_ranks(dist::Communicator& comm, std::vector<double>& values);

// This process's high-water marks of host and device memory, threads now and CPU time so far (Linux).
void read_process_figures(RankFigures& figures);

// Every rank's figures, by rank (`mine` from each rank; host names from the layout).
std::vector<RankFigures> gather_rank_figures(dist::Communicator& comm, const RankFigures& mine,
                                             const RankLayout& layout);

}  // namespace ember::tools
