// Hostile peers: a raw vhost-user frontend against net_vnet_vhost (bad call
// fds, memory shrunk under the rings, unread replies, trickled bytes, huge
// regions) and a fake backend against net_vnet_user (partial reply, stall
// mid-reconnect). Each in a forked EAL child (hostile_peer.h): the process
// must live, a healthy pair on the same lcore must keep forwarding verified
// frames, control calls must return within 5 s, and the attacked port must
// serve the next well-behaved peer without leaking fds, mappings or mbufs.
#include <gtest/gtest.h>

#include "hostile_peer.h"

using namespace vnet::test;
using namespace vnet::test::hostile;

namespace {

void expect_child_ok(const Options& o, const std::function<int(Env&)>& attack) {
  const ChildResult r = run_child(o, attack);
  EXPECT_TRUE(r.ok) << r.why;
}

// Eventfds as a well-behaved frontend passes them (its own copies closed here).
struct CallFds {
  int fd[2];
  CallFds() {
    for (int& f : fd) f = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~CallFds() {
    for (int f : fd) ::close(f);
  }
};

// Raw frontend set-up with `call` as call fd of both rings, then frames both
// ways until `until` (stage 1 once the rings are armed and buffers offered).
void arm_and_flow(Hostile& h, int call0, int call1, const std::function<bool()>& until,
                  uint64_t file_size = 2u << 20) {
  const int rc = h.f.arm(call0, call1, file_size);
  if (!h.sent_ok(rc, "set-up")) {
    h.watch();
    return;
  }
  h.f.offer_rx_all();
  h.stage = 1;
  h.traffic(until);
}

}  // namespace

// 0. The rig itself: a raw frontend that behaves (eventfd call fds), frames
// both ways, then a hang-up. Every check the attacks rely on must hold here,
// so that an attack's failure is the attack's doing.
TEST(HostileRig, WellBehavedRawFrontend) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t d0 = e.xstat("vhost_disconnects"), bad0 = e.xstat("vhost_bad_messages");
    CallFds call;
    Hostile h(e.a_sock, [&call](Hostile& h) {
      arm_and_flow(h, call.fd[0], call.fd[1], [&] { return h.cmd.load() >= 1; });
      h.f.close_sock();
      h.stage = 2;
    });
    h.go();
    step("a well-behaved raw frontend, frames both ways");
    if (!e.pump_until([&] { return h.rx_frames >= 256 && h.tx_frames >= 256 && e.att_rx >= 256; }, 5))
      e.fail("frames do not flow (%lu to the peer, %lu from it; dropped %d; %s)", h.rx_frames.load(),
             h.tx_frames.load(), h.dropped.load(), h.notes().c_str());
    if (!e.att_link_up()) e.fail("net_vnet_vhost0 link down with the raw frontend armed");
    h.cmd = 1;
    if (!e.pump_until([&] { return e.xstat("vhost_disconnects") > d0; }, 5)) e.fail("hang-up not seen within 5 s");
    if (e.xstat("vhost_bad_messages") != bad0) e.fail("a well-behaved peer's message was counted as bad");
    return 0;
  });
}
