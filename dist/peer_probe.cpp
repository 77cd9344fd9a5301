#include "dist/peer_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <sstream>

#include "base/error.h"

namespace ember::dist {
namespace {

std::string own_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

// Every IPv4 address of an interface that is up, loopback last and only when there is no other.
std::vector<std::string> own_ipv4_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a; a = a->ifa_next) {
      if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
      if (a->ifa_flags & IFF_LOOPBACK) continue;
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
      out.push_back(text);
    }
    freeifaddrs(list);
  }
  if (out.empty()) out.push_back("127.0.0.1");
  return out;
}

int64_t ms_until(std::chrono::steady_clock::time_point deadline) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

PeerAddress parse_peer_record(const std::string& record) {
  std::istringstream in(record.substr(0, record.find('\0')));
  PeerAddress a;
  EMBER_CHECK(in >> a.host >> a.port, "dist: malformed peer record '", record.substr(0, record.find('\0')), "'");
  for (std::string ip; in >> ip;) a.ipv4.push_back(ip);
  EMBER_CHECK(!a.ipv4.empty(), "dist: peer record of ", a.host, " has no address");
  return a;
}

PeerProbe::PeerProbe(std::function<PeerProgress()> progress) : progress_(std::move(progress)) {
  self_.host = own_host_name();
  self_.ipv4 = own_ipv4_addresses();
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // accept() never blocks
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof(any);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&any), &length) != 0 ||
      pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    // Training goes on without: port 0 tells the peers that this rank cannot be asked.
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  self_.port = ntohs(any.sin_port);
  responder_ = std::thread([this] { respond(); });
}

PeerProbe::~PeerProbe() {
  if (listen_fd_ < 0) return;
  const char stop = 1;
  [[maybe_unused]] const ssize_t written = write(wake_pipe_[1], &stop, 1);  // the responder sees it and returns
  responder_.join();
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

void PeerProbe::respond() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;  // a signal (ember's stop signals): poll again
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    const PeerProgress p = progress_();
    const std::string reply = std::to_string(p.collectives_entered) + (p.waiting ? " waiting\n" : " running\n");
    // A prober that has left already: nothing to do about it.
    [[maybe_unused]] const ssize_t sent = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    close(fd);
  }
}

std::string PeerProbe::record() const {
  std::string r = self_.host + " " + std::to_string(self_.port);
  for (const std::string& ip : self_.ipv4)
    if (r.size() + 1 + ip.size() < kRecordBytes) r += " " + ip;
  r.resize(kRecordBytes, '\0');
  return r;
}

void PeerProbe::set_peers(int rank, const std::vector<std::string>& records) {
  rank_ = rank;
  peers_.clear();
  for (const std::string& r : records) peers_.push_back(parse_peer_record(r));
}

std::string PeerProbe::diagnose(const PeerProgress& mine, std::chrono::milliseconds patience) const {
  // One non-blocking connection per peer address, all at once; a peer's first reply decides.
  struct Attempt {
    int peer = 0, fd = -1;
    bool connected = false, finished = false;
    int error = 0;
    std::string reply;
  };
  std::vector<Attempt> attempts;
  for (int p = 0; p < world_size(); ++p) {
    if (p == rank_ || peers_[p].port == 0) continue;
    for (const std::string& ip : peers_[p].ipv4) {
      Attempt a;
      a.peer = p;
      a.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(peers_[p].port));
      inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
      if (a.fd < 0) {
        a.finished = true, a.error = errno;
      } else if (connect(a.fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
        a.connected = true;
      } else if (errno != EINPROGRESS) {
        a.finished = true, a.error = errno;
      }
      attempts.push_back(a);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::map<int, std::string> replies;  // peer -> its first reply
  auto unresolved = [&] {
    for (const Attempt& a : attempts)
      if (!a.finished && !replies.count(a.peer)) return true;
    return false;
  };
  while (unresolved() && ms_until(deadline) > 0) {
    std::vector<pollfd> fds;
    std::vector<Attempt*> of;
    for (Attempt& a : attempts)
      if (!a.finished && !replies.count(a.peer)) {
        fds.push_back({a.fd, static_cast<short>(a.connected ? POLLIN : POLLOUT), 0});
        of.push_back(&a);
      }
    if (poll(fds.data(), fds.size(), static_cast<int>(ms_until(deadline))) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      Attempt& a = *of[i];
      if (!fds[i].revents) continue;
      if (!a.connected) {
        socklen_t size = sizeof(a.error);
        getsockopt(a.fd, SOL_SOCKET, SO_ERROR, &a.error, &size);
        if (a.error) a.finished = true;
        else a.connected = true;
        continue;
      }
      char buffer[64];
      const ssize_t n = read(a.fd, buffer, sizeof(buffer));
      if (n > 0) a.reply.append(buffer, n);
      if (n <= 0 || a.reply.find('\n') != std::string::npos) {
        a.finished = true;
        if (!a.reply.empty()) replies.emplace(a.peer, a.reply);
      }
    }
  }
  std::map<int, bool> refused;  // peer -> every address refused the connection (host up, no listener)
  for (const Attempt& a : attempts) {
    if (a.fd >= 0) close(a.fd);
    auto [it, fresh] = refused.emplace(a.peer, true);
    it->second = it->second && a.finished && a.error == ECONNREFUSED;
  }

  // Grouped by host and what was found, in rank order: "ranks 2, 3 on emberh2: no answer ...".
  struct Finding {
    std::string host, why;
    std::vector<int> ranks;
  };
  std::vector<Finding> findings;
  std::ostringstream waited;
  waited << patience.count() / 1000.0 << " s";
  for (int p = 0; p < world_size(); ++p) {
    if (p == rank_) continue;
    std::string why;
    if (peers_[p].port == 0) {
      why = "cannot be asked (it has no probe listener)";
    } else if (auto r = replies.find(p); r != replies.end()) {
      std::istringstream in(r->second);
      int64_t entered = -1;
      std::string state;
      in >> entered >> state;
      if (state == "waiting" && entered == mine.collectives_entered) continue;  // a fellow waiter
      why = "alive but not in this collective (its collective " + std::to_string(entered) + ", " + state +
            "; this rank's " + std::to_string(mine.collectives_entered) + "): it hangs or is slow";
    } else if (refused[p]) {
      why = "its process is gone (the host refuses the connection)";
    } else {
      why = "no answer within " + waited.str() + " (host down or network cut)";
    }
    auto same = std::find_if(findings.begin(), findings.end(),
                             [&](const Finding& f) { return f.host == peers_[p].host && f.why == why; });
    if (same == findings.end()) findings.push_back({peers_[p].host, why, {p}});
    else same->ranks.push_back(p);
  }
  if (findings.empty())
    return "no peer lost: every rank answers and waits in the same collective (a link between ranks may be cut)";
  std::string out;
  bool first = true;
  for (const Finding& f : findings) {
    out += (first ? "" : "; ") + join_ranks(f.ranks) + " on " + f.host + ": " + f.why;
    first = false;
  }
  return out;
}

}  // namespace ember::dist
