// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's vhost-user state machine driven over a socketpair by a
// scripted frontend: the handshake virtio-user and QEMU perform, rings
// armed over a memfd memory table (guest and user addresses differ, as with
// QEMU), link state, GET_VRING_BASE, disconnect, and malformed messages:
// each is counted and closes the connection; unsupported ones get a NACK.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "fd_audit.h"
#include "vhost/rarp.h"
#include "vhost/vhost_user_server.h"
#include "virtio/ring_layout.h"

namespace vnet::vhost {
namespace {

namespace vu = vhost_user;
using virtio::bit;

constexpr uint64_t kGpa = 0x40000000;      // guest physical (descriptors)
constexpr uint64_t kUva = 0x7f1200000000;  // frontend virtual (rings)
constexpr uint64_t kMemSize = 1 << 20;

using test::open_fds;
size_t count_maps() { return test::count_maps("vnet-vhost-srvtest"); }

struct Rig {
  std::unique_ptr<Vring[]> vr{new Vring[4]};
  int links = 0;
  bool last_link = false;
  Server srv;
  int s[2] = {-1, -1};
  Rig() : srv(vr.get(), cfg(), &Rig::hook, this) { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0); }
  ~Rig() {
    srv.disconnect();
    ::close(s[0]);
    ::close(s[1]);
  }
  static ServerConfig cfg() {
    ServerConfig c;
    c.queue_pairs = 2;
    c.name = "test";
    return c;
  }
  static void hook(void* ctx, bool up) {
    auto* r = static_cast<Rig*>(ctx);
    ++r->links;
    r->last_link = up;
  }
  // Frontend sends one message; the backend handles it. Returns handle_one's result.
  int msg(uint32_t req, const void* payload, uint32_t size, const int* fds = nullptr, size_t nfds = 0,
          uint32_t flags = vu::FLAG_VERSION) {
    vu::Msg m{};
    m.hdr = {req, flags, size};
    if (size) std::memcpy(&m.p, payload, size);
    EXPECT_EQ(vu::send(s[0], m, fds, nfds), 0);
    return srv.handle_one(s[1]);
  }
  int u64(uint32_t req, uint64_t v, uint32_t flags = vu::FLAG_VERSION) { return msg(req, &v, 8, nullptr, 0, flags); }
  int state(uint32_t req, uint32_t idx, uint32_t num) {
    vu::VringState st{idx, num};
    return msg(req, &st, sizeof st);
  }
  bool has_reply() {
    pollfd p{s[0], POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  vu::Msg reply() {
    vu::Msg r{};
    int fds[vu::kMaxFds];
    size_t n = 0;
    EXPECT_TRUE(has_reply());
    EXPECT_EQ(vu::recv(s[0], r, fds, &n), 0);
    EXPECT_EQ(r.hdr.flags, vu::FLAG_VERSION | vu::FLAG_REPLY);
    return r;
  }
  uint64_t get(uint32_t req) {
    EXPECT_EQ(msg(req, nullptr, 0), 0);
    const vu::Msg r = reply();
    EXPECT_EQ(r.hdr.request, req);
    EXPECT_EQ(r.hdr.size, 8u);
    return r.p.u64;
  }

  int memfd = -1;
  void handshake(uint64_t features, uint64_t proto) {
    ASSERT_EQ(msg(vu::SET_OWNER, nullptr, 0), 0);
    EXPECT_EQ(get(vu::GET_FEATURES), kOfferedFeatures);
    EXPECT_EQ(get(vu::GET_PROTOCOL_FEATURES), kOfferedProtocolFeatures);
    ASSERT_EQ(u64(vu::SET_PROTOCOL_FEATURES, proto), 0);
    ASSERT_EQ(u64(vu::SET_FEATURES, features), 0);
    memfd = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
    ASSERT_EQ(::ftruncate(memfd, kMemSize), 0);
    vu::MemTable t{};
    t.nregions = 1;
    t.regions[0] = {kGpa, kMemSize, kUva, 0};
    ASSERT_EQ(msg(vu::SET_MEM_TABLE, &t, 8 + 32, &memfd, 1), 0);
    ::close(memfd);
  }
  // Ring i at a fixed place in the table (size 256): user addresses.
  static vu::VringAddr addr(uint32_t i) {
    const uint64_t b = kUva + 0x10000 * (i + 1);
    return vu::VringAddr{i, 0, b, b + 0x2000, b + 0x1000, 0};
  }
  void ring(uint32_t i, bool packed = false) {
    ASSERT_EQ(state(vu::SET_VRING_NUM, i, 256), 0);
    ASSERT_EQ(state(vu::SET_VRING_BASE, i, packed ? 0x8000 : 0), 0);
    const auto a = addr(i);
    ASSERT_EQ(msg(vu::SET_VRING_ADDR, &a, sizeof a), 0);
    int call = ::eventfd(0, EFD_CLOEXEC), kick = ::eventfd(0, EFD_CLOEXEC);
    const uint64_t index = i;
    ASSERT_EQ(msg(vu::SET_VRING_CALL, &index, 8, &call, 1), 0);
    ASSERT_EQ(msg(vu::SET_VRING_KICK, &index, 8, &kick, 1), 0);
    ::close(call);
    ::close(kick);
  }
};

constexpr uint64_t kFeat = bit(virtio::feat::VERSION_1) | bit(virtio::feat::EVENT_IDX) |
                           bit(virtio::feat::NET_MRG_RXBUF) | bit(virtio::feat::PROTOCOL_FEATURES);
constexpr uint64_t kProto = bit(vu::pf::REPLY_ACK) | bit(vu::pf::STATUS) | bit(vu::pf::MQ);

TEST(VhostServer, OffersWhatTheIssueAsksFor) {
  for (unsigned f :
       {virtio::feat::VERSION_1, virtio::feat::RING_PACKED, virtio::feat::IN_ORDER, virtio::feat::INDIRECT_DESC,
        virtio::feat::EVENT_IDX, virtio::feat::NET_MRG_RXBUF, virtio::feat::NET_MQ, virtio::feat::NET_MTU,
        virtio::feat::NET_STATUS, virtio::feat::PROTOCOL_FEATURES})
    EXPECT_TRUE(virtio::has(kOfferedFeatures, f)) << f;
  EXPECT_FALSE(virtio::has(kOfferedFeatures, virtio::feat::NET_CTRL_VQ));  // no control queue here
  for (unsigned f :
       {vu::pf::MQ, vu::pf::REPLY_ACK, vu::pf::RARP, vu::pf::MTU, vu::pf::CONFIGURE_MEM_SLOTS, vu::pf::STATUS})
    EXPECT_TRUE(virtio::has(kOfferedProtocolFeatures, f)) << f;
}

TEST(VhostServer, HandshakeArmsRingsAndRaisesLink) {
  Rig r;
  r.handshake(kFeat, kProto);
  EXPECT_EQ(r.get(vu::GET_QUEUE_NUM), 2u);
  EXPECT_EQ(r.get(vu::GET_MAX_MEM_SLOTS), GuestMemory::kMaxSlots);
  // REPLY_ACK: a message that asks for a reply gets ack 0.
  ASSERT_EQ(r.u64(vu::SET_STATUS, virtio::status::ACKNOWLEDGE | virtio::status::DRIVER,
                  vu::FLAG_VERSION | vu::FLAG_NEED_REPLY),
            0);
  EXPECT_EQ(r.reply().p.u64, 0u);
  r.ring(0);
  r.ring(1);
  EXPECT_FALSE(r.srv.link_up());  // PROTOCOL_FEATURES: rings start disabled
  ASSERT_EQ(r.state(vu::SET_VRING_ENABLE, 0, 1), 0);
  ASSERT_EQ(r.state(vu::SET_VRING_ENABLE, 1, 1), 0);
  EXPECT_FALSE(r.srv.link_up());  // STATUS negotiated: waits for DRIVER_OK
  ASSERT_EQ(r.u64(vu::SET_STATUS, 0xf), 0);
  EXPECT_EQ(r.get(vu::GET_STATUS), 0xfu);
  EXPECT_TRUE(r.srv.link_up());
  EXPECT_EQ(r.links, 1);
  EXPECT_TRUE(r.last_link);
  // The data path may use a ring only once the ethdev queue is set up and started.
  EXPECT_FALSE(r.srv.vring_ready(0));
  r.srv.attach(0, nullptr, true);
  r.srv.attach(1, nullptr, true);
  EXPECT_FALSE(r.srv.vring_ready(0));
  r.srv.set_started(true);
  EXPECT_TRUE(r.srv.vring_ready(0));
  EXPECT_TRUE(r.srv.vring_ready(1));
  EXPECT_FALSE(r.srv.vring_ready(2));
  // Ring pointers are the user addresses translated: avail ring idx written
  // through the memfd is what the device ring sees.
  EXPECT_EQ(r.vr[1].dq.size(), 256u);
  EXPECT_EQ(r.vr[0].hdr_len, 12u);

  // GET_VRING_BASE stops the ring and reports where it is.
  ASSERT_EQ(r.state(vu::GET_VRING_BASE, 1, 0), 0);
  const vu::Msg b = r.reply();
  EXPECT_EQ(b.p.state.index, 1u);
  EXPECT_EQ(b.p.state.num, 0u);
  EXPECT_FALSE(r.srv.vring_ready(1));
  EXPECT_FALSE(r.srv.link_up());
  EXPECT_FALSE(r.last_link);
  EXPECT_EQ(r.srv.stats().errors, 0u);
}

TEST(VhostServer, PackedRingsAndMemoryReplaceKeepPosition) {
  Rig r;
  r.handshake(kFeat | bit(virtio::feat::RING_PACKED), kProto);
  r.ring(0, true);
  ASSERT_TRUE(r.vr[0].armed);
  EXPECT_EQ(r.vr[0].dq.layout(), ring::Layout::Packed);
  EXPECT_EQ(r.vr[0].dq.last_avail(), 0x8000);  // index 0, wrap counter 1
  EXPECT_EQ(r.vr[0].dq.used_idx(), 0x8000);    // no used half sent: same as avail
  // A new memory table (same layout): the ring is re-armed where it was.
  const int fd = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(fd, kMemSize), 0);
  vu::MemTable t{};
  t.nregions = 1;
  t.regions[0] = {kGpa, kMemSize, kUva, 0};
  ASSERT_EQ(r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
  ::close(fd);
  EXPECT_TRUE(r.vr[0].armed);
  EXPECT_EQ(count_maps(), 1u);  // the old table was unmapped
  // A table that no longer holds the ring: rejected, connection closes.
  const int fd2 = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(fd2, kMemSize), 0);
  t.regions[0] = {kGpa, kMemSize, kUva + 0x10000000, 0};
  EXPECT_LT(r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd2, 1), 0);
  ::close(fd2);
  EXPECT_FALSE(r.vr[0].armed);
  EXPECT_EQ(r.srv.stats().errors, 1u);
}

TEST(VhostServer, DisconnectReleasesEverything) {
  const size_t fds0 = open_fds();
  {
    Rig r;
    r.handshake(kFeat, kProto);
    r.ring(0);
    r.ring(1);
    r.state(vu::SET_VRING_ENABLE, 0, 1);
    r.state(vu::SET_VRING_ENABLE, 1, 1);
    r.u64(vu::SET_STATUS, 0xf);
    EXPECT_TRUE(r.srv.link_up());
    EXPECT_EQ(count_maps(), 1u);
    r.srv.disconnect();
    EXPECT_FALSE(r.srv.link_up());
    EXPECT_FALSE(r.last_link);
    EXPECT_EQ(r.links, 2);
    EXPECT_EQ(count_maps(), 0u);
    EXPECT_EQ(open_fds(), fds0 + 2);  // only the socketpair is left
    EXPECT_EQ(r.srv.stats().disconnects, 1u);
    // A new frontend can start over.
    r.handshake(kFeat, kProto);
    r.ring(0);
    EXPECT_TRUE(r.vr[0].armed);
  }
  EXPECT_EQ(open_fds(), fds0);
}

// One malformed message on a set-up connection: rejected, counted, and no fd leaked.
struct BadCase {
  const char* what;
  std::function<int(Rig&)> send;
};

// QEMU sends a packed ring's base as avail (bits 0-15) | used (bits 16-31),
// each an index with its wrap counter in bit 15; GET_VRING_BASE answers alike.
TEST(VhostServer, PackedBaseCarriesTheUsedHalf) {
  Rig r;
  r.handshake(kFeat | bit(virtio::feat::RING_PACKED), kProto);
  ASSERT_EQ(r.state(vu::SET_VRING_NUM, 0, 256), 0);
  ASSERT_EQ(r.state(vu::SET_VRING_BASE, 0, 0x80008000), 0);  // QEMU's fresh ring
  ASSERT_EQ(r.state(vu::SET_VRING_BASE, 0, 0x00058007), 0);  // avail 7/wrap 1, used 5/wrap 0
  const auto a = Rig::addr(0);
  ASSERT_EQ(r.msg(vu::SET_VRING_ADDR, &a, sizeof a), 0);
  ASSERT_EQ(r.u64(vu::SET_VRING_KICK, 0 | vu::VRING_NOFD), 0);
  ASSERT_TRUE(r.vr[0].armed);
  EXPECT_EQ(r.vr[0].dq.last_avail(), 0x8007);
  EXPECT_EQ(r.vr[0].dq.used_idx(), 0x0005);
  ASSERT_EQ(r.state(vu::GET_VRING_BASE, 0, 0), 0);
  EXPECT_EQ(r.reply().p.state.num, 0x00058007u);
  // A used index beyond the ring is as invalid as an avail one.
  ASSERT_EQ(r.state(vu::SET_VRING_NUM, 0, 256), 0);
  EXPECT_LT(r.state(vu::SET_VRING_BASE, 0, 0x01008000), 0);
  EXPECT_EQ(r.srv.stats().errors, 1u);
}

TEST(VhostServer, MalformedMessagesCloseTheConnection) {
  const std::vector<BadCase> cases = {
      {"SET_FEATURES with a 4-byte payload",
       [](Rig& r) {
         uint32_t v = 0;
         return r.msg(vu::SET_FEATURES, &v, 4);
       }},
      {"GET_FEATURES with a payload", [](Rig& r) { return r.u64(vu::GET_FEATURES, 0); }},
      {"features not offered (CTRL_VQ)",
       [](Rig& r) { return r.u64(vu::SET_FEATURES, kFeat | bit(virtio::feat::NET_CTRL_VQ)); }},
      {"protocol features not offered",
       [](Rig& r) { return r.u64(vu::SET_PROTOCOL_FEATURES, bit(vu::pf::BACKEND_REQ)); }},
      {"vring index out of range", [](Rig& r) { return r.state(vu::SET_VRING_NUM, 4, 256); }},
      {"split ring size not a power of two", [](Rig& r) { return r.state(vu::SET_VRING_NUM, 0, 300); }},
      {"ring size zero", [](Rig& r) { return r.state(vu::SET_VRING_NUM, 0, 0); }},
      {"ring size over 32768", [](Rig& r) { return r.state(vu::SET_VRING_NUM, 0, 65536); }},
      {"split base over 16 bits", [](Rig& r) { return r.state(vu::SET_VRING_BASE, 0, 0x10000); }},
      {"kick without fd or NOFD", [](Rig& r) { return r.u64(vu::SET_VRING_KICK, 0); }},
      {"call index out of range", [](Rig& r) { return r.u64(vu::SET_VRING_CALL, 7 | vu::VRING_NOFD); }},
      {"enable value 2", [](Rig& r) { return r.state(vu::SET_VRING_ENABLE, 0, 2); }},
      {"status wider than a byte", [](Rig& r) { return r.u64(vu::SET_STATUS, 0x100); }},
      {"kick before size and address", [](Rig& r) { return r.u64(vu::SET_VRING_KICK, 0 | vu::VRING_NOFD); }},
      {"ring outside memory",
       [](Rig& r) {
         r.state(vu::SET_VRING_NUM, 0, 256);
         vu::VringAddr a{0, 0, kUva + kMemSize - 0x100, kUva, kUva + 0x8000, 0};
         r.msg(vu::SET_VRING_ADDR, &a, sizeof a);
         return r.u64(vu::SET_VRING_KICK, 0 | vu::VRING_NOFD);
       }},
      {"ring at a guest (not user) address",
       [](Rig& r) {
         r.state(vu::SET_VRING_NUM, 0, 256);
         vu::VringAddr a{0, 0, kGpa, kGpa + 0x2000, kGpa + 0x1000, 0};
         r.msg(vu::SET_VRING_ADDR, &a, sizeof a);
         return r.u64(vu::SET_VRING_KICK, 0 | vu::VRING_NOFD);
       }},
      // Found by fuzz_vhost_messages: aligned user addresses, but the region's
      // user_addr is odd against its mmap_offset, so the used ring's local
      // address was misaligned (UB in the data path's 16-bit accesses).
      {"ring misaligned in the region's mapping",
       [](Rig& r) {
         const int fd = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
         (void)!::ftruncate(fd, kMemSize);
         vu::MemTable t{};
         t.nregions = 1;
         t.regions[0] = {kGpa, kMemSize - 0x1000, kUva + 1, 0};
         EXPECT_EQ(r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
         ::close(fd);
         r.state(vu::SET_VRING_NUM, 0, 256);
         const auto a = Rig::addr(0);
         r.msg(vu::SET_VRING_ADDR, &a, sizeof a);
         return r.u64(vu::SET_VRING_KICK, 0 | vu::VRING_NOFD);
       }},
      {"mem table: 2 regions, 1 fd",
       [](Rig& r) {
         vu::MemTable t{};
         t.nregions = 2;
         t.regions[0] = {0, 0x1000, 0, 0};
         t.regions[1] = {0x1000, 0x1000, 0x1000, 0};
         const int fd = ::memfd_create("x", MFD_CLOEXEC);
         const int rc = r.msg(vu::SET_MEM_TABLE, &t, 8 + 64, &fd, 1);
         ::close(fd);
         return rc;
       }},
      {"mem table: size disagrees with nregions",
       [](Rig& r) {
         vu::MemTable t{};
         t.nregions = 3;
         return r.msg(vu::SET_MEM_TABLE, &t, 8 + 32);
       }},
      {"mem table: region past end of file",
       [](Rig& r) {
         vu::MemTable t{};
         t.nregions = 1;
         t.regions[0] = {0, kMemSize * 2, 0, 0};
         const int fd = ::memfd_create("x", MFD_CLOEXEC);
         (void)!::ftruncate(fd, kMemSize);
         const int rc = r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd, 1);
         ::close(fd);
         return rc;
       }},
      {"fd on a message that takes none",
       [](Rig& r) {
         const int fd = ::eventfd(0, EFD_CLOEXEC);
         uint64_t v = kFeat;
         const int rc = r.msg(vu::SET_FEATURES, &v, 8, &fd, 1);
         ::close(fd);
         return rc;
       }},
      {"bad header version", [](Rig& r) { return r.msg(vu::GET_FEATURES, nullptr, 0, nullptr, 0, 0x2); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const size_t fds0 = open_fds();
    {
      Rig r;
      r.handshake(kFeat, kProto);
      EXPECT_LT(c.send(r), 0);
      EXPECT_EQ(r.srv.stats().errors, 1u);
      r.srv.disconnect();
      EXPECT_EQ(count_maps(), 0u);
    }
    EXPECT_EQ(open_fds(), fds0);
  }
}

TEST(VhostServer, UnsupportedRequestsGetANackAndTheConnectionStays) {
  Rig r;
  r.handshake(kFeat, kProto);
  // Unknown request asking for a reply.
  ASSERT_EQ(r.msg(99, nullptr, 0, nullptr, 0, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  vu::Msg m = r.reply();
  EXPECT_EQ(m.hdr.request, 99u);
  EXPECT_NE(m.p.u64, 0u);
  // Known to vhost-user, not offered here (dirty logging); its fd is closed.
  const size_t fds0 = open_fds();
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  uint64_t v = 0;
  ASSERT_EQ(r.msg(vu::SET_LOG_FD, &v, 8, &fd, 1, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  ::close(fd);
  EXPECT_NE(r.reply().p.u64, 0u);
  EXPECT_EQ(open_fds(), fds0);
  // A value out of range for a supported request: NACK, not a disconnect.
  ASSERT_EQ(r.u64(vu::NET_SET_MTU, 10, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  EXPECT_NE(r.reply().p.u64, 0u);
  ASSERT_EQ(r.u64(vu::NET_SET_MTU, 9000, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  EXPECT_EQ(r.reply().p.u64, 0u);
  EXPECT_EQ(r.srv.mtu(), 9000);
  // Still talking.
  EXPECT_EQ(r.get(vu::GET_FEATURES), kOfferedFeatures);
  EXPECT_EQ(r.srv.stats().errors, 0u);
  EXPECT_EQ(r.srv.stats().unsupported, 2u);
}

TEST(VhostServer, WithoutProtocolFeaturesKickEnables) {
  Rig r;
  ASSERT_EQ(r.msg(vu::SET_OWNER, nullptr, 0), 0);
  ASSERT_EQ(r.u64(vu::SET_FEATURES, bit(virtio::feat::VERSION_1)), 0);
  const int fd = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(fd, kMemSize), 0);
  vu::MemTable t{};
  t.nregions = 1;
  t.regions[0] = {kGpa, kMemSize, kUva, 0};
  ASSERT_EQ(r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
  ::close(fd);
  r.ring(0);
  r.ring(1);
  EXPECT_TRUE(r.srv.link_up());
  EXPECT_FALSE(r.has_reply());  // no REPLY_ACK negotiated: nothing is sent back
}

// Ring-protocol error counts (xstats) survive a re-arm and a disconnect:
// the device ring is re-initialised each time, its counts are folded first.
TEST(VhostServer, RingErrorCountsSurviveReArm) {
  Rig r;
  r.handshake(kFeat, kProto);
  r.ring(0);
  ASSERT_TRUE(r.vr[0].armed);
  // The frontend publishes a head out of range: the ring counts it.
  uint8_t* base = r.vr[0].mem.translate(kGpa, 1);
  ASSERT_NE(base, nullptr);
  auto* avail = reinterpret_cast<uint16_t*>(base + (Rig::addr(0).avail - kUva));
  avail[2] = 999;  // ring[0]
  avail[1] = 1;    // idx
  ring::Chain c;
  EXPECT_EQ(r.vr[0].dq.pop(c), ring::Pop::Broken);
  auto total = [&] {
    const auto& live = r.vr[0].dq.errors();
    return r.vr[0].ring_err_past[ring::DevErr::HeadOutOfRange] + live[ring::DevErr::HeadOutOfRange];
  };
  EXPECT_EQ(total(), 1u);
  const int fd = ::memfd_create("vnet-vhost-srvtest", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(fd, kMemSize), 0);
  vu::MemTable t{};
  t.nregions = 1;
  t.regions[0] = {kGpa, kMemSize, kUva, 0};
  ASSERT_EQ(r.msg(vu::SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
  ::close(fd);
  ASSERT_TRUE(r.vr[0].armed);
  EXPECT_EQ(total(), 1u);
  r.srv.disconnect();
  EXPECT_EQ(total(), 1u);
}

// SEND_RARP: the data path is handed the MAC once per request, and the
// announcement is a broadcast RARP reverse request for it (RFC 903).
TEST(VhostServer, SendRarpIsTakenOnceAndBuildsTheAnnouncement) {
  Rig r;
  r.handshake(kFeat, kProto);
  uint8_t mac[6] = {};
  EXPECT_FALSE(r.srv.take_rarp(mac));
  const uint64_t m = 0x0000665544332211ull;  // 11:22:33:44:55:66 in the low six bytes
  ASSERT_EQ(r.u64(vu::SEND_RARP, m, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  EXPECT_EQ(r.reply().p.u64, 0u);
  ASSERT_TRUE(r.srv.take_rarp(mac));
  const uint8_t want[6] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
  EXPECT_EQ(std::memcmp(mac, want, 6), 0);
  EXPECT_FALSE(r.srv.take_rarp(mac));  // once per request

  uint8_t f[vnet::vhost::kRarpFrameLen];
  vnet::vhost::build_rarp(f, mac);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f[i], 0xff);
  EXPECT_EQ(std::memcmp(f + 6, want, 6), 0);
  EXPECT_EQ(f[12], 0x80);
  EXPECT_EQ(f[13], 0x35);
  EXPECT_EQ(f[14 + 7], 3);  // reverse request
  EXPECT_EQ(std::memcmp(f + 14 + 8, want, 6), 0);
  EXPECT_EQ(std::memcmp(f + 14 + 18, want, 6), 0);
}

// Call, kick and err fds must be eventfds: a pipe whose reader is gone
// raised SIGPIPE from the data path's notification write.
TEST(VhostServer, VringFdsMustBeEventfds) {
  for (uint32_t req : {vu::SET_VRING_CALL, vu::SET_VRING_KICK, vu::SET_VRING_ERR}) {
    Rig r;
    r.handshake(kFeat, kProto);
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    ::close(p[0]);
    const size_t fds_before = open_fds();
    const uint64_t index = 0;
    EXPECT_LT(r.msg(req, &index, 8, &p[1], 1), 0) << vu::req_name(req);
    EXPECT_EQ(r.srv.stats().errors, 1u) << vu::req_name(req);
    EXPECT_EQ(open_fds(), fds_before) << "the refused fd is closed: " << vu::req_name(req);
    ::close(p[1]);
  }
}

// A blocking call eventfd is made non-blocking: a counter the frontend left
// at its maximum must never block the data path's write.
TEST(VhostServer, CallEventfdIsMadeNonBlocking) {
  Rig r;
  r.handshake(kFeat, kProto);
  const int call = ::eventfd(0, EFD_CLOEXEC);
  const uint64_t max = 0xfffffffffffffffeull;
  ASSERT_EQ(::write(call, &max, 8), 8);
  const uint64_t index = 0;
  ASSERT_EQ(r.msg(vu::SET_VRING_CALL, &index, 8, &call, 1), 0);
  EXPECT_TRUE(::fcntl(call, F_GETFL) & O_NONBLOCK);
  ASSERT_GE(r.vr[0].call_fd, 0);
  const uint64_t one = 1;
  EXPECT_EQ(::write(r.vr[0].call_fd, &one, 8), -1);  // EAGAIN, at once
  EXPECT_EQ(errno, EAGAIN);
  ::close(call);
}

// RESET_OWNER is a fresh start: memory table and protocol state go too.
TEST(VhostServer, ResetOwnerDropsMemoryAndProtocolState) {
  Rig r;
  r.handshake(kFeat, kProto);
  r.ring(0);
  ASSERT_EQ(count_maps(), 1u);
  ASSERT_EQ(r.msg(vu::RESET_OWNER, nullptr, 0), 0);
  EXPECT_EQ(count_maps(), 0u);
  EXPECT_EQ(r.srv.features(), 0u);
  EXPECT_FALSE(r.vr[0].armed);
  // No REPLY_ACK any more: a NEED_REPLY message gets no ack.
  ASSERT_EQ(r.u64(vu::SET_FEATURES, kFeat, vu::FLAG_VERSION | vu::FLAG_NEED_REPLY), 0);
  EXPECT_FALSE(r.has_reply());
  // No memory table any more: a ring cannot start.
  ASSERT_EQ(r.state(vu::SET_VRING_NUM, 0, 256), 0);
  const auto a = Rig::addr(0);
  ASSERT_EQ(r.msg(vu::SET_VRING_ADDR, &a, sizeof a), 0);
  const int kick = ::eventfd(0, EFD_CLOEXEC);
  const uint64_t index = 0;
  EXPECT_LT(r.msg(vu::SET_VRING_KICK, &index, 8, &kick, 1), 0);
  ::close(kick);
}

// A second SEND_RARP replaces the first whole: the MAC is never half of each.
TEST(VhostServer, SecondSendRarpReplacesTheFirstWhole) {
  Rig r;
  r.handshake(kFeat, kProto);
  ASSERT_EQ(r.u64(vu::SEND_RARP, 0x0000665544332211ull), 0);
  ASSERT_EQ(r.u64(vu::SEND_RARP, 0x0000ccbbaa998877ull), 0);
  uint8_t mac[6] = {};
  ASSERT_TRUE(r.srv.take_rarp(mac));
  const uint8_t want[6] = {0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc};
  EXPECT_EQ(std::memcmp(mac, want, 6), 0);
  EXPECT_FALSE(r.srv.take_rarp(mac));
}

// A frontend that never reads its replies: the backend gives up after one
// reply deadline and never blocks with its lock held (stats() answers).
TEST(VhostServer, FrontendThatNeverReadsRepliesIsDropped) {
  Rig r;
  r.handshake(kFeat, kProto);
  int rc = 0;
  const int64_t t0 = vu::now_ns();
  for (int i = 0; i < 100000 && rc == 0; ++i) {
    rc = r.msg(vu::GET_FEATURES, nullptr, 0);
    EXPECT_LT((vu::now_ns() - t0) / 1000000, 10000);
    if ((vu::now_ns() - t0) / 1000000 >= 10000) break;
  }
  EXPECT_EQ(rc, -ETIMEDOUT);
  EXPECT_EQ(r.srv.stats().timeouts, 1u);
}

}  // namespace
}  // namespace vnet::vhost
