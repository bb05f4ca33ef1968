// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
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
void arm_and_flow(Hostile& h, int call0, int call1, const std::function<bool()>& until, uint64_t file_size = 2u << 20) {
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
    Hostile h(e.a_sock, [&call](Hostile& self) {
      arm_and_flow(self, call.fd[0], call.fd[1], [&] { return self.cmd.load() >= 1; });
      self.f.close_sock();
      self.stage = 2;
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

// 1. A call fd that is the write end of a pipe nobody reads: the backend's
// notification write would raise SIGPIPE. It must refuse the fd (not an
// eventfd), count it and close the connection.
TEST(HostileFrontend, PipeAsCallFd) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t bad0 = e.xstat("vhost_bad_messages");
    Hostile h(e.a_sock, [](Hostile& self) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return self.note("pipe: %s", std::strerror(errno));
      ::close(p[0]);  // no reader: a write raises SIGPIPE
      arm_and_flow(self, p[1], p[1], [] { return false; });
      ::close(p[1]);
    });
    h.go();
    step("a pipe without reader as call fd; frames both ways through net_vnet_vhost0");
    if (!e.pump_until([&] { return h.dropped.load(); }, 5))
      e.fail("a pipe without reader was kept as call fd: peer not dropped within 5 s (%lu frames to it, %lu from it)",
             h.rx_frames.load(), h.tx_frames.load());
    e.expect_rises("vhost_bad_messages", bad0);
    return 0;
  });
}

// 2. A blocking eventfd whose counter is at its maximum: a write of 1 blocks
// until someone reads, and the peer never does. Every flush notifies (no
// EVENT_IDX, no NO_INTERRUPT). The lcore must never block; once the peer
// hangs up, the backend's disconnect must complete promptly.
TEST(HostileFrontend, BlockingEventfdAtMax) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t d0 = e.xstat("vhost_disconnects"), bad0 = e.xstat("vhost_bad_messages");
    Hostile h(e.a_sock, [](Hostile& self) {
      const int efd = ::eventfd(0, EFD_CLOEXEC);  // blocking
      const uint64_t max = 0xfffffffffffffffeull;
      if (efd < 0 || ::write(efd, &max, 8) != 8) return self.note("eventfd: %s", std::strerror(errno));
      arm_and_flow(self, efd, efd, [&] { return self.cmd.load() >= 1; });
      ::close(efd);
      self.f.close_sock();
      self.stage = 2;
    });
    h.go();
    step("a blocking eventfd at its maximum as call fd; frames both ways");
    const bool flowing = e.pump_until([&] { return (h.rx_frames >= 64 && h.tx_frames >= 64) || h.dropped; }, 5);
    if (h.dropped) {
      // Refusing such an fd up front is a defence too; it must be counted.
      e.expect_rises("vhost_bad_messages", bad0);
      return 0;
    }
    if (!flowing)
      e.fail("no frames flow with the blocking call fd (%lu to the peer, %lu from it; %s)", h.rx_frames.load(),
             h.tx_frames.load(), h.notes().c_str());
    e.pump_for(1.0);  // many more notifications
    h.cmd = 1;
    step("the peer hangs up");
    e.pump_until([&] { return h.stage.load() >= 2; }, 2);
    if (!e.pump_until([&] { return e.xstat("vhost_disconnects") > d0; }, 5))
      e.fail("the backend did not complete the disconnect within 5 s of the peer hanging up");
    e.timed("rte_eth_dev_stop(net_vnet_vhost0) after the peer left", kControlS,
            [&] { return rte_eth_dev_stop(e.att); });
    e.timed("rte_eth_dev_start(net_vnet_vhost0) after the peer left", kControlS,
            [&] { return rte_eth_dev_start(e.att); });
    return 0;
  });
}

// 3a. The memfd shrinks to 0 after SET_MEM_TABLE, before the rings are set
// up: arming a ring reads it (SIGBUS). The connection must be dropped instead.
TEST(HostileFrontend, MemoryShrunkDuringRingSetup) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t d0 = e.xstat("vhost_disconnects");
    Hostile h(e.a_sock, [](Hostile& self) {
      int rc = self.f.handshake();
      if (rc == 0) rc = self.f.make_memory(2u << 20, 2u << 20);
      if (rc == 0) rc = self.f.set_mem_table();
      uint64_t f = 0;  // a request with a reply: the table was taken when it comes
      if (rc == 0) rc = self.f.get_u64(vu::GET_FEATURES, &f);
      if (!self.sent_ok(rc, "handshake and memory table")) return self.watch();
      self.f.touch_ok = false;
      if (::ftruncate(self.f.memfd, 0) != 0) return self.note("ftruncate: %s", std::strerror(errno));
      self.note("memory table taken; memfd shrunk to 0; now SET_VRING_NUM/BASE/ADDR/KICK/CALL");
      self.stage = 1;
      rc = self.f.setup_ring(0, -1);
      if (rc == 0) rc = self.f.setup_ring(1, -1);
      self.sent_ok(rc, "ring set-up over the shrunk memfd");
      self.stage = 2;
      self.watch();
    });
    h.go();
    step("ring set-up over a memfd shrunk to 0");
    if (!e.pump_until([&] { return h.dropped.load(); }, 5))
      e.fail("rings set up over a memfd shrunk to 0: peer not dropped within 5 s (stage %d; %s)", h.stage.load(),
             h.notes().c_str());
    e.expect_rises("vhost_disconnects", d0);
    if (!e.pump_until([&] { return !e.att_link_up(); }, 2)) e.fail("net_vnet_vhost0 link still up");
    return 0;
  });
}

// 3b. The memfd shrinks to 0 while frames flow both ways: the data path's
// next access to the rings or buffers is a SIGBUS on the lcore. The
// connection must be marked broken and dropped, the link must go down.
TEST(HostileFrontend, MemoryShrunkWhileFramesFlow) {
  expect_child_ok({}, [](Env& e) {
    CallFds call;
    Hostile h(e.a_sock, [&call](Hostile& self) {
      arm_and_flow(self, call.fd[0], call.fd[1], [&] { return self.cmd.load() >= 1; });
      if (self.stop || self.dropped || self.stage < 1) return;
      self.f.touch_ok = false;  // from here on this thread never touches the mapping
      if (::ftruncate(self.f.memfd, 0) != 0) return self.note("ftruncate: %s", std::strerror(errno));
      self.note("memfd shrunk to 0 under running rings");
      self.stage = 2;
      self.watch();
    });
    h.go();
    step("frames both ways through net_vnet_vhost0 before the shrink");
    if (!e.pump_until([&] { return h.rx_frames >= 256 && h.tx_frames >= 256 && e.att_rx >= 256; }, 5)) {
      e.fail("frames do not flow before the attack (%lu to the peer, %lu from it, %lu received; %s)",
             h.rx_frames.load(), h.tx_frames.load(), e.att_rx, h.notes().c_str());
      return 0;
    }
    const uint64_t d0 = e.xstat("vhost_disconnects");
    step("frames both ways through net_vnet_vhost0 while the peer shrinks its memfd to 0");
    h.cmd = 1;
    e.pump_until([&] { return h.stage.load() >= 2; }, 2);
    if (!e.pump_until([&] { return h.dropped.load(); }, 5))
      e.fail("memfd shrunk to 0 under running rings: peer not dropped within 5 s (stage %d)", h.stage.load());
    e.expect_rises("vhost_disconnects", d0);
    if (!e.pump_until([&] { return !e.att_link_up(); }, 2)) e.fail("net_vnet_vhost0 link still up");
    return 0;
  });
}

// 4. Requests that need a reply (GET_FEATURES), sent until the socket is
// full, replies never read. Control calls on the port must still return
// within 5 s, and the backend must drop the peer within a few seconds.
TEST(HostileFrontend, RepliesNeverRead) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t d0 = e.xstat("vhost_disconnects");
    Hostile h(e.a_sock, [](Hostile& self) {
      if (!self.sent_ok(self.f.handshake(), "handshake")) return self.watch();
      const uint32_t hdr[3] = {vu::GET_FEATURES, vu::FLAG_VERSION, 0};
      double stuck = 0;
      size_t part = 0;  // bytes of the current request already sent
      while (!self.stop && !self.dropped) {
        const ssize_t n = ::send(self.f.sock, reinterpret_cast<const char*>(hdr) + part, sizeof hdr - part,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          part += static_cast<size_t>(n);
          if (part == sizeof hdr) {
            part = 0;
            ++self.sent;
          }
          stuck = 0;
        } else if (errno == EAGAIN) {
          if (stuck == 0) stuck = now_s();
          if (now_s() - stuck > 1.0) break;  // full, and the backend no longer reads
          pollfd p{self.f.sock, POLLOUT | POLLRDHUP, 0};
          if (::poll(&p, 1, 50) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) self.dropped = true;
        } else {
          self.note("send: %s", std::strerror(errno));
          self.dropped = true;
        }
      }
      self.stage = 1;
      self.watch();
    });
    h.go();
    step("GET_FEATURES until the socket is full, replies never read");
    if (!e.pump_until([&] { return h.stage.load() >= 1; }, 15)) e.fail("the socket never filled up");
    std::fprintf(stderr, "%lu requests sent, peer %s\n", h.sent.load(), h.dropped ? "dropped" : "still connected");
    e.timed("rte_eth_xstats_get(net_vnet_vhost0) with the peer's replies unread", kControlS, [&] {
      rte_eth_xstat x[512];
      return rte_eth_xstats_get(e.att, x, 512);
    });
    e.timed("rte_eth_dev_stop(net_vnet_vhost0) with the peer's replies unread", kControlS,
            [&] { return rte_eth_dev_stop(e.att); });
    e.timed("rte_eth_dev_start(net_vnet_vhost0) with the peer's replies unread", kControlS,
            [&] { return rte_eth_dev_start(e.att); });
    if (!e.pump_until([&] { return h.dropped.load(); }, 10))
      e.fail("a peer that never reads its replies was not dropped within 10 s");
    e.expect_rises("vhost_disconnects", d0);
    return 0;
  });
}

namespace {
// 5. A valid message (SET_VRING_ADDR, 52 bytes) one byte every 0.5 s.
void trickle(Hostile& h) {
  if (!h.sent_ok(h.f.handshake(), "handshake")) return h.watch();
  vu::Msg m{};
  m.hdr = {vu::SET_VRING_ADDR, vu::FLAG_VERSION, sizeof(vu::VringAddr)};
  m.p.addr = {0, 0, 0x100000, 0x102000, 0x101000, 0};
  uint8_t bytes[12 + sizeof(vu::VringAddr)];
  std::memcpy(bytes, &m.hdr, 12);
  std::memcpy(bytes + 12, &m.p.addr, sizeof(vu::VringAddr));
  for (uint8_t b : bytes) {
    if (::send(h.f.sock, &b, 1, MSG_NOSIGNAL) != 1) {
      h.note("send: %s", std::strerror(errno));
      h.dropped = true;
      return;
    }
    ++h.sent;
    h.stage = 1;
    const double next = now_s() + 0.5;
    while (!h.stop && !h.dropped && now_s() < next)
      if (h.f.peer_closed(50)) h.dropped = true;
    if (h.stop || h.dropped) return;
  }
  h.stage = 2;
  h.watch();
}
}  // namespace

TEST(HostileFrontend, OneByteEveryHalfSecond) {
  expect_child_ok({}, [](Env& e) {
    const uint64_t d0 = e.xstat("vhost_disconnects");
    Hostile h(e.a_sock, trickle);
    h.go();
    step("a message trickled at one byte per 0.5 s");
    e.pump_until([&] { return h.stage.load() >= 1 || h.dropped; }, 5);
    if (!e.pump_until([&] { return h.dropped.load(); }, 10))
      e.fail(
          "the backend was still reading a message trickled at one byte per 0.5 s after 10 s (%lu of 52 bytes "
          "in): no whole-message deadline",
          h.sent.load());
    else
      e.expect_rises("vhost_disconnects", d0);
    return 0;
  });
}

// 5b. The port is stopped and closed while the trickle goes on.
TEST(HostileFrontend, CloseDuringOneByteEveryHalfSecond) {
  expect_child_ok({}, [](Env& e) {
    Hostile h(e.a_sock, trickle);
    h.go();
    step("a message trickled at one byte per 0.5 s");
    if (!e.pump_until([&] { return h.sent >= 4 || h.dropped; }, 5)) e.fail("the trickle did not start");
    e.timed("rte_eth_dev_stop(net_vnet_vhost0) during the trickle", kControlS, [&] { return rte_eth_dev_stop(e.att); });
    e.timed("rte_eth_dev_close(net_vnet_vhost0) during the trickle", kControlS,
            [&] { return rte_eth_dev_close(e.att); });
    e.att_open = false;
    if (!e.pump_until([&] { return h.dropped.load(); }, 2)) e.fail("the closed port's connection is still open");
    return 0;
  });
}

// 6. Memory bloat with mlockall(MCL_CURRENT | MCL_FUTURE) (as testpmd): a
// locked process populates every page it maps. (a) A 1 TiB sparse region
// must be refused (the per-port cap on mapped guest memory, 64 GiB by default).
TEST(HostileFrontend, TebibyteRegionRefused) {
#if defined(__SANITIZE_THREAD__)
  // mlockall would lock ThreadSanitizer's terabytes of shadow mappings; the
  // release build runs this attack (tsan runs the label for the races).
  GTEST_SKIP() << "mlockall under ThreadSanitizer";
#endif
  expect_child_ok({.mlock = true}, [](Env& e) {
    const uint64_t bad0 = e.xstat("vhost_bad_messages");
    Hostile h(e.a_sock, [](Hostile& self) {
      int rc = self.f.handshake();
      if (rc == 0) rc = self.f.make_memory(1ull << 40, 2u << 20);  // sparse; 2 MiB of it mapped here
      if (rc == 0) rc = self.f.set_mem_table();
      self.sent_ok(rc, "a 1 TiB memory table");
      self.stage = 1;
      self.watch();
    });
    rss_guard_begin(1536);
    h.go();
    step("SET_MEM_TABLE of a 1 TiB region (mlockall)");
    if (!e.pump_until([&] { return h.dropped.load(); }, 5)) e.fail("a 1 TiB region was not refused within 5 s");
    const long grew = rss_growth_kb();
    if (grew >= 64 * 1024) e.fail("VmRSS grew by %ld MiB (limit 64 MiB)", grew / 1024);
    e.expect_rises("vhost_bad_messages", bad0);
    return 0;
  });
}

// (b) A 1 GiB sparse region is accepted and the rings run inside it; pages
// the guest never touched must stay unpopulated.
TEST(HostileFrontend, GibibyteRegionStaysSparse) {
#if defined(__SANITIZE_THREAD__)
  // mlockall would lock ThreadSanitizer's terabytes of shadow mappings; the
  // release build runs this attack (tsan runs the label for the races).
  GTEST_SKIP() << "mlockall under ThreadSanitizer";
#endif
  expect_child_ok({.mlock = true}, [](Env& e) {
    CallFds call;
    Hostile h(e.a_sock, [&call](Hostile& self) {
      arm_and_flow(
          self, call.fd[0], call.fd[1], [] { return false; }, 1ull << 30);
    });
    rss_guard_begin(1536);
    h.go();
    step("a 1 GiB region (mlockall), frames both ways");
    if (!e.pump_until([&] { return h.rx_frames >= 256 && h.tx_frames >= 256 && e.att_rx >= 256; }, 5))
      e.fail("a 1 GiB region with rings inside: frames do not flow (%lu to the peer, %lu from it; dropped %d; %s)",
             h.rx_frames.load(), h.tx_frames.load(), h.dropped.load(), h.notes().c_str());
    const long grew = rss_growth_kb();
    if (grew >= 64 * 1024) e.fail("VmRSS grew by %ld MiB with a 1 GiB region mapped (limit 64 MiB)", grew / 1024);
    return 0;
  });
}

// 7. The backend answers GET_FEATURES with 5 of the 12 header bytes and
// keeps the socket open: the probe must fail within 30 s (the frontend's
// whole-reply deadline is 20 s), leaving no port behind.
TEST(HostileBackend, PartialReplyHeader) {
  expect_child_ok({.recovery = "net_vnet_user7"}, [](Env& e) {
    {
      FakeBackend b(e.f_sock, [](FakeBackend& self) {
        const int s = self.accept();
        vu::Msg m{};
        if (s < 0 || !self.serve_until(s, vu::GET_FEATURES, m)) return;
        const uint32_t hdr[3] = {vu::GET_FEATURES, vu::FLAG_VERSION | vu::FLAG_REPLY, 8};
        if (::send(s, hdr, 5, MSG_NOSIGNAL) != 5) return;
        self.stage = 1;
        self.hold(s);
      });
      if (!b.listening()) e.fatal("fake backend cannot listen on %s", e.f_sock.c_str());
      const std::string args = "path=" + e.f_sock;
      const int rc = e.timed("rte_vdev_init(net_vnet_user7) against 5 bytes of a 12-byte reply header", 30,
                             [&] { return rte_vdev_init("net_vnet_user7", args.c_str()); });
      if (b.stage < 1) e.fail("the fake backend never sent its partial reply");
      if (rc == 0) e.fail("the probe succeeded on a partial reply header");
      uint16_t p;
      if (rte_eth_dev_get_port_by_name("net_vnet_user7", &p) == 0) {
        e.fail("a port was left behind");
        rte_vdev_uninit("net_vnet_user7");
      }
    }
    return 0;
  });
}

// 8. A started port whose backend goes away; on reconnection (client mode,
// every 250 ms) the backend answers the handshake, then never answers
// SET_MEM_TABLE. Stop and close of the port must each return within 5 s.
TEST(HostileBackend, StallMidReconnect) {
  expect_child_ok({.recovery = "net_vnet_user8"}, [](Env& e) {
    {
      FakeBackend b(e.f_sock, [](FakeBackend& self) {
        int s = self.accept();
        vu::Msg m{};
        if (s < 0) return;
        while (self.next(s, m, 1)) FakeBackend::serve(s, m);  // until told to go away
        self.drop(s);
        self.stage = 1;
        if ((s = self.accept()) < 0) return;
        self.stage = 2;
        if (!self.serve_until(s, vu::SET_MEM_TABLE, m)) return;
        self.stage = 3;  // never answered
        self.hold(s);
      });
      if (!b.listening()) e.fatal("fake backend cannot listen on %s", e.f_sock.c_str());
      const std::string args = "path=" + e.f_sock;
      uint16_t p;
      if (e.timed("rte_vdev_init(net_vnet_user8)", 10, [&] { return rte_vdev_init("net_vnet_user8", args.c_str()); }) ||
          rte_eth_dev_get_port_by_name("net_vnet_user8", &p))
        e.fatal("net_vnet_user8 does not probe against the fake backend");
      if (e.timed("start net_vnet_user8", 10, [&] { return setup_port(p, e.mp, false, 1); }) != 0)
        e.fatal("net_vnet_user8 does not start against the fake backend");
      b.cmd = 1;
      step("the backend goes away; the frontend reconnects into a stall");
      if (!e.pump_until([&] { return b.stage.load() >= 3; }, 5))
        e.fail("the frontend did not reconnect and reach SET_MEM_TABLE within 5 s (stage %d)", b.stage.load());
      e.timed("rte_eth_dev_stop(net_vnet_user8) while its backend stalls on SET_MEM_TABLE", kControlS,
              [&] { return rte_eth_dev_stop(p); });
      e.timed("rte_eth_dev_close(net_vnet_user8) while its backend stalls on SET_MEM_TABLE", kControlS,
              [&] { return rte_eth_dev_close(p); });
      e.timed("rte_vdev_uninit(net_vnet_user8)", kControlS, [&] { return rte_vdev_uninit("net_vnet_user8"); });
    }
    return 0;
  });
}
