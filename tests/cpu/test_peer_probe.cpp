// dist/peer_probe.h in one process: several probes stand for ranks (a fellow waiter, a hung rank, a rank whose
// process is gone, a host that does not answer), and the diagnosis names each by rank and host.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dist/peer_probe.h"
#include "tests/testing.h"

using namespace ember::dist;
using Catch::Matchers::Contains;

namespace {

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

TEST_CASE("peer probe: names the lost, gone and hung ranks with their hosts", "[dist]") {
  const PeerProgress waiting{5, true}, behind{4, false};
  PeerProbe me([&] { return waiting; });
  PeerProbe fellow([&] { return waiting; });
  PeerProbe hung([&] { return behind; });
  std::string gone_record;
  {
    PeerProbe gone([] { return PeerProgress{}; });
    gone_record = gone.record();
  }  // closed: its port now refuses connections
  // A frozen host: the kernel takes the connection, nothing ever replies (an address that drops SYNs would
  // do the same, but some networks refuse those at once).
  const int frozen = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(local);
  REQUIRE(bind(frozen, reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0);
  REQUIRE(listen(frozen, 4) == 0);
  REQUIRE(getsockname(frozen, reinterpret_cast<sockaddr*>(&local), &length) == 0);
  std::string silent_record = "farhost " + std::to_string(ntohs(local.sin_port)) + " 127.0.0.1";
  silent_record.resize(PeerProbe::kRecordBytes, '\0');
  me.set_peers(0, {me.record(), fellow.record(), hung.record(), gone_record, silent_record});
  REQUIRE(me.host_of(4) == "farhost");

  const std::string host = this_host();
  const std::string why = me.diagnose(waiting, std::chrono::milliseconds(300));
  INFO(why);
  CHECK_THAT(why, !Contains("rank 1 "));  // waits in the same collective
  CHECK_THAT(why, Contains("rank 2 on " + host +
                           ": alive but not in this collective (its collective 4, running; this rank's 5): it hangs"));
  CHECK_THAT(why, Contains("rank 3 on " + host + ": its process is gone (the host refuses the connection)"));
  CHECK_THAT(why, Contains("rank 4 on farhost: no answer within 0.3 s (host down or network cut)"));
  close(frozen);
}

TEST_CASE("peer probe: nobody lost when every peer waits too, records round-trip", "[dist]") {
  const PeerProgress waiting{2, true};
  PeerProbe a([&] { return waiting; }), b([&] { return waiting; });
  a.set_peers(0, {a.record(), b.record()});
  CHECK_THAT(a.diagnose(waiting, std::chrono::milliseconds(500)), Contains("no peer lost"));
  const PeerAddress parsed = parse_peer_record(b.record());
  CHECK(parsed.host == this_host());
  CHECK(parsed.port > 0);
  CHECK(!parsed.ipv4.empty());
  CHECK_THROWS(parse_peer_record(std::string(PeerProbe::kRecordBytes, '\0')));
}
