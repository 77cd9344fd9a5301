// PeerProbe: which peer is gone, and on which host, when a collective has waited too long.
//
// A rank blocked in MPI_Allreduce cannot ask MPI who is missing (and under MPI_THREAD_FUNNELED no other thread
// may call MPI), so the ranks keep a channel of their own. At start every rank listens on an ephemeral TCP
// port of all its interfaces, and the ranks exchange (host name, port, IPv4 addresses) in one all-gather. A
// small thread answers each connection with the rank's progress: collectives entered, and whether it waits in
// one now. When the watchdog gives up, it connects to every peer at once (for `patience`) and sorts them:
//   no answer                     the host is down or the network to it is cut (nobody answers the SYN)
//   connection refused            the host is up, the rank's process is gone (killed, crashed)
//   answers, fewer collectives    alive but not in the collective: it hangs elsewhere or is slow
//   answers, waiting in the same  a fellow waiter: not named
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace ember::dist {

struct PeerAddress {
  std::string host;
  int port = 0;
  std::vector<std::string> ipv4;  // dotted quads: every IPv4 interface that is up (loopback only if alone)
};

// A rank's own progress, as its responder reports it.
struct PeerProgress {
  int64_t collectives_entered = 0;
  bool waiting = false;
};

class PeerProbe {
 public:
  // Opens the listener and starts the responder, which reports `progress()` to whoever connects.
  explicit PeerProbe(std::function<PeerProgress()> progress);
  ~PeerProbe();
  PeerProbe(const PeerProbe&) = delete;
  PeerProbe& operator=(const PeerProbe&) = delete;

  // This rank's address as a fixed-size record (kRecordBytes) for an all-gather, and every rank's, by rank.
  static constexpr size_t kRecordBytes = 512;
  std::string record() const;
  void set_peers(int rank, const std::vector<std::string>& records);
  const std::string& host_of(int rank) const { return peers_.at(rank).host; }
  int world_size() const { return static_cast<int>(peers_.size()); }

  // "ranks 2, 3 on emberh2: no answer within 2 s (host down or network cut)" (findings grouped by host and
  // kind, "; " between groups), or "no peer lost: ..." when every peer waits too; at most `patience` of probing.
  std::string diagnose(const PeerProgress& mine, std::chrono::milliseconds patience) const;

 private:
  void respond();
  std::function<PeerProgress()> progress_;
  int listen_fd_ = -1, wake_pipe_[2] = {-1, -1};
  PeerAddress self_;
  int rank_ = 0;
  std::vector<PeerAddress> peers_;
  std::thread responder_;
};

// Parses a record (exposed for tests); throws on a malformed one.
PeerAddress parse_peer_record(const std::string& record);

}  // namespace ember::dist
