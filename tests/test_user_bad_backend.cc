// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// net_vnet_user against a vhost-user backend that misbehaves: a fake
// backend thread on a unix socket answers the frontend's requests and, at
// one chosen point, closes, answers the wrong request, sends a bad size or
// a broken header, stops mid-message, or refuses. The probe or dev_start
// must fail with an error (and a log line); the process carries on and the
// next scenario probes again in the same EAL.
#include <bus_vdev_driver.h>
#include <gtest/gtest.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "log_capture.h"
#include "net/rxtx.h"
#include "virtio/features.h"
#include "vhost_user/protocol.h"

namespace vu = vnet::vhost_user;
using vnet::virtio::bit;

namespace {

std::string g_dir;
rte_mempool* g_mp = nullptr;

bool next(int s, vu::Msg& m) {
  int fds[vu::kMaxFds];
  size_t n = 0;
  const int rc = vu::recv(s, m, fds, &n);
  vu::close_fds(fds, n);
  return rc == 0;
}

void reply(int s, const vu::Msg& req, uint64_t v, uint32_t size = 8, uint32_t code = 0) {
  vu::Msg r{};
  r.hdr.request = code ? code : req.hdr.request;
  r.hdr.flags = vu::FLAG_VERSION | vu::FLAG_REPLY;
  r.hdr.size = size;
  r.p.u64 = v;
  vu::send(s, r);
}

// A well-behaved answer to anything the frontend sends.
void serve(int s, const vu::Msg& m) {
  switch (m.hdr.request) {
    case vu::GET_FEATURES:
      reply(s, m, bit(vnet::virtio::feat::VERSION_1) | bit(vnet::virtio::feat::PROTOCOL_FEATURES));
      return;
    case vu::GET_PROTOCOL_FEATURES:
      reply(s, m, bit(vu::pf::REPLY_ACK));
      return;
    case vu::GET_VRING_BASE: {
      vu::Msg r{};
      r.hdr.request = m.hdr.request;
      r.hdr.flags = vu::FLAG_VERSION | vu::FLAG_REPLY;
      r.hdr.size = sizeof(vu::VringState);
      r.p.state = m.p.state;
      vu::send(s, r);
      return;
    }
    default:
      if (m.hdr.flags & vu::FLAG_NEED_REPLY) reply(s, m, 0);
  }
}

// Serve until `req` arrives and hand it to the scenario (false: the frontend left).
bool serve_until(int s, uint32_t req, vu::Msg& m) {
  while (next(s, m)) {
    if (m.hdr.request == req) return true;
    serve(s, m);
  }
  return false;
}

class FakeBackend {
 public:
  // script(sock, *this) runs on the backend's thread once the frontend connected.
  FakeBackend(const std::string& name, std::function<void(int, FakeBackend&)> script) : path_(g_dir + "/" + name) {
    lfd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    unlink(path_.c_str());
    EXPECT_EQ(bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(lfd_, 1), 0);
    th_ = std::thread([this, script] {
      const int s = accept(lfd_, nullptr, nullptr);
      if (s < 0) return;
      script(s, *this);
      vu::Msg m{};
      if (!closed_by_script_)
        while (next(s, m)) serve(s, m);  // until the frontend goes
      close(s);
    });
  }
  ~FakeBackend() {
    shutdown(lfd_, SHUT_RDWR);
    th_.join();
    close(lfd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  bool closed_by_script_ = false;

 private:
  std::string path_;
  int lfd_ = -1;
  std::thread th_;
};

int probe(const FakeBackend& b, const char* name) {
  const std::string args = "path=" + b.path();
  return rte_vdev_init(name, args.c_str());
}

// The probe must fail, cleanly.
void expect_probe_fails(const char* tag, const char* why, std::function<void(int, FakeBackend&)> fault) {
  LogCapture log;
  FakeBackend b(tag, fault);
  const std::string name = std::string("net_vnet_user_") + tag;
  EXPECT_LT(probe(b, name.c_str()), 0) << tag;
  uint16_t port;
  EXPECT_NE(rte_eth_dev_get_port_by_name(name.c_str(), &port), 0) << "no port may be left behind: " << tag;
  EXPECT_NE(log.text().find(why), std::string::npos) << "log lacks '" << why << "':\n" << log.text();
}

// Probe fine; dev_start must fail; the port closes cleanly afterwards.
void expect_start_fails(const char* tag, const char* why, std::function<void(int, FakeBackend&)> fault) {
  LogCapture log;
  FakeBackend b(tag, fault);
  const std::string name = std::string("net_vnet_user_") + tag;
  ASSERT_EQ(probe(b, name.c_str()), 0) << tag;
  uint16_t port;
  ASSERT_EQ(rte_eth_dev_get_port_by_name(name.c_str(), &port), 0);
  rte_eth_conf conf{};
  ASSERT_EQ(rte_eth_dev_configure(port, 1, 1, &conf), 0);
  ASSERT_EQ(rte_eth_rx_queue_setup(port, 0, 256, 0, nullptr, g_mp), 0);
  ASSERT_EQ(rte_eth_tx_queue_setup(port, 0, 256, 0, nullptr), 0);
  EXPECT_LT(rte_eth_dev_start(port), 0) << tag;
  rte_eth_link link{};
  rte_eth_link_get_nowait(port, &link);
  EXPECT_EQ(link.link_status, RTE_ETH_LINK_DOWN);
  EXPECT_EQ(rte_mempool_in_use_count(g_mp), 0u) << "every Rx buffer given back: " << tag;
  EXPECT_EQ(rte_vdev_uninit(name.c_str()), 0);
  EXPECT_NE(log.text().find(why), std::string::npos) << "log lacks '" << why << "':\n" << log.text();
}

}  // namespace

TEST(UserBadBackend, ClosesOnAccept) {
  expect_probe_fails("close", "backend failed ", [](int s, FakeBackend& b) {
    b.closed_by_script_ = true;
    close(s);
  });
}

TEST(UserBadBackend, AnswersAnotherRequest) {
  expect_probe_fails("wrongreq", "backend failed GET_FEATURES: refused, or answered", [](int s, FakeBackend&) {
    vu::Msg m{};
    if (serve_until(s, vu::GET_FEATURES, m)) reply(s, m, 1, 8, vu::GET_QUEUE_NUM);
  });
}

TEST(UserBadBackend, ReplyOfWrongSize) {
  expect_probe_fails("badsize", "backend failed GET_FEATURES: refused, or answered", [](int s, FakeBackend&) {
    vu::Msg m{};
    if (serve_until(s, vu::GET_FEATURES, m)) reply(s, m, 1, 4);
  });
}

TEST(UserBadBackend, OversizedReply) {
  expect_probe_fails("huge", "GET_FEATURES: malformed message", [](int s, FakeBackend& b) {
    vu::Msg m{};
    if (!serve_until(s, vu::GET_FEATURES, m)) return;
    const uint32_t hdr[3] = {vu::GET_FEATURES, vu::FLAG_VERSION | vu::FLAG_REPLY, 1u << 20};  // 1 MiB payload
    [[maybe_unused]] ssize_t w = send(s, hdr, sizeof hdr, MSG_NOSIGNAL);
    b.closed_by_script_ = true;
    close(s);
  });
}

TEST(UserBadBackend, BadVersionInHeader) {
  expect_probe_fails("version", "GET_FEATURES: malformed message", [](int s, FakeBackend&) {
    vu::Msg m{};
    if (!serve_until(s, vu::GET_FEATURES, m)) return;
    const uint32_t hdr[3] = {vu::GET_FEATURES, 0x2 | vu::FLAG_REPLY, 8};
    const uint64_t v = 1;
    [[maybe_unused]] ssize_t w = send(s, hdr, sizeof hdr, MSG_NOSIGNAL);
    w = send(s, &v, sizeof v, MSG_NOSIGNAL);  // the frontend may have hung up already
  });
}

TEST(UserBadBackend, ClosesMidMessage) {
  expect_probe_fails("half", "GET_PROTOCOL_FEATURES: malformed message", [](int s, FakeBackend& b) {
    vu::Msg m{};
    if (!serve_until(s, vu::GET_PROTOCOL_FEATURES, m)) return;
    const uint32_t hdr[3] = {vu::GET_PROTOCOL_FEATURES, vu::FLAG_VERSION | vu::FLAG_REPLY, 8};
    [[maybe_unused]] ssize_t w = send(s, hdr, 6, MSG_NOSIGNAL);  // half a header, then gone
    b.closed_by_script_ = true;
    close(s);
  });
}

TEST(UserBadBackend, RefusesMemoryTable) {
  expect_start_fails("nack", "ring set-up refused by the backend: Protocol error", [](int s, FakeBackend&) {
    vu::Msg m{};
    if (serve_until(s, vu::SET_MEM_TABLE, m)) reply(s, m, 1);  // REPLY_ACK with a non-zero status
  });
}

TEST(UserBadBackend, ClosesDuringStart) {
  expect_start_fails("gone", "ring set-up refused by the backend", [](int s, FakeBackend& b) {
    vu::Msg m{};
    if (!serve_until(s, vu::SET_VRING_ADDR, m)) return;
    b.closed_by_script_ = true;
    close(s);
  });
}

// The offload header a device writes is checked before any flag is set.
TEST(RxOffloadHeader, OnlyWhatWasNegotiatedAndInsideTheFrame) {
  using namespace vnet;
  net::Queue q;
  q.hdr_size = sizeof(virtio::NetHdrMrg);
  rte_mbuf* m = rte_pktmbuf_alloc(g_mp);
  ASSERT_NE(m, nullptr);
  m->pkt_len = m->data_len = 100;
  auto hdr = [](uint8_t flags, uint8_t gso, uint16_t start, uint16_t off, uint16_t size) {
    virtio::NetHdr h{};
    h.flags = flags;
    h.gso_type = gso;
    h.csum_start.set(start);
    h.csum_offset.set(off);
    h.gso_size.set(size);
    return h;
  };
  auto check = [&](const virtio::NetHdr& h) {
    m->ol_flags = 0;
    m->tso_segsz = 0;
    return net::rx_offload_hdr(q, m, h);
  };
  // GUEST_CSUM not negotiated: a partial checksum is refused.
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, 0, 34, 16, 0)));
  q.rx_csum = true;
  EXPECT_TRUE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, 0, 34, 16, 0)));
  EXPECT_EQ(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_NONE);
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, 0, 90, 16, 0))) << "checksum field past the frame";
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, 0, 0xffff, 0xffff, 0))) << "no 16-bit wrap";
  EXPECT_TRUE(check(hdr(virtio::NET_HDR_F_DATA_VALID, 0, 0, 0, 0)));
  EXPECT_EQ(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  // GSO: only negotiated kinds, never ECN or UDP here, never a zero segment size.
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_TCPV4, 34, 16, 1448)));
  q.rx_gso = net::kGsoTcp4;
  EXPECT_TRUE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_TCPV4, 34, 16, 1448)));
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_RX_LRO);
  EXPECT_EQ(m->tso_segsz, 1448);
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_TCPV6, 34, 16, 1448)));
  EXPECT_FALSE(
      check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_TCPV4 | virtio::NET_HDR_GSO_ECN, 34, 16, 1448)));
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_UDP, 34, 6, 1448)));
  EXPECT_FALSE(check(hdr(virtio::NET_HDR_F_NEEDS_CSUM, virtio::NET_HDR_GSO_TCPV4, 34, 16, 0)));
  // rx_complete: a bad header is a counted error and the mbuf goes back to the pool.
  auto* h = reinterpret_cast<virtio::NetHdr*>(static_cast<uint8_t*>(m->buf_addr) + RTE_PKTMBUF_HEADROOM - q.hdr_size);
  *h = hdr(virtio::NET_HDR_F_NEEDS_CSUM, 0, 90, 16, 0);
  const unsigned before = rte_mempool_in_use_count(g_mp);
  EXPECT_FALSE(net::rx_complete(q, m, net::kRxOffHdr));
  EXPECT_EQ(q.st.errors, 1u);
  EXPECT_EQ(q.st.packets, 0u);
  EXPECT_EQ(rte_mempool_in_use_count(g_mp), before - 1);
}

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();  // test discovery: no EAL
  char dir[] = "/tmp/vnet-badbe-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  g_dir = dir;
  const std::string prefix = "--file-prefix=badbe" + std::to_string(getpid());
  std::vector<std::string> args = {argv[0],    "--no-huge", "-m",
                                   "256",      "--no-pci",  prefix.c_str(),
                                   "--lcores", "0@0",       "--log-level=pmd.net.vnet*:info"};
  std::vector<char*> av;
  for (auto& s : args) av.push_back(s.data());
  if (rte_eal_init(static_cast<int>(av.size()), av.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  g_mp = rte_pktmbuf_pool_create("badbe", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  const int rc = g_mp ? RUN_ALL_TESTS() : 1;
  rte_eal_cleanup();
  rmdir(dir);
  return rc;
}
