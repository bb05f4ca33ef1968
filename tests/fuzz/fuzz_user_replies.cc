// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: virtio-user's reply handling (virtio_user::Frontend, and
// VhostUserTransport's handshake) against a hostile vhost-user backend whose
// bytes, fds and hang-ups come from the input. Input format: user_fuzz.h.
//
// The harness keeps a copy of every byte the backend sent and sees how many
// the frontend consumed in each call (FIONREAD on its socket), so it knows
// the exact reply each call read. Checked per call:
//  - the result is 0 or a negative errno;
//  - 0 only for a reply that is exactly right (request, REPLY flag, version,
//    size; the value returned is the one sent), and nothing is read by a
//    call that expects no reply;
//  - a REPLY_ACK refusal (a right ack with a non-zero value) is -EPROTO and
//    leaves the connection usable;
//  - any other failure shuts the socket down, and from then on every call
//    fails without reading a byte (no stale reply is ever taken);
//  - the request on the wire is the one asked for, with NEED_REPLY exactly
//    when REPLY_ACK is negotiated and the request has no reply of its own.
// Per input: no fd leaks (reply fds are closed, ours are not taken).
#include <fcntl.h>
#include <poll.h>
#include <rte_log.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fd_audit.h"
#include "user_fuzz.h"
#include "virtio/features.h"
#include "virtio_user/frontend.h"
#include "virtio_user/transport.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;
using namespace vnet::fuzz::user_in;
namespace vu = vnet::vhost_user;
using virtio_user::Frontend;

// Each call's deadline: a reply that never (fully) comes costs this much.
constexpr int64_t kDeadlineNs = 2'000'000;

struct Globals {
  int listen_fd = -1;
  int cancel_fd = -1;  // an eventfd, readable only during a kCancel call
  std::string path;    // abstract unix socket name (leading NUL)
  bool log = false;
};
Globals g;

int sock_addr(sockaddr_un& a) {
  std::memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, g.path.data(), g.path.size());
  return 0;
}

// The backend's end of the connection and everything it sent.
struct Backend {
  int fd = -1;
  std::vector<uint8_t> stream;  // every byte the frontend could read, in order
  size_t consumed = 0;          // of which the frontend has read this many
  bool hung_up = false;

  // Writes one frame with `flags` fds; keeps what the socket took.
  void frame(const uint8_t* p, size_t len, uint8_t flags) {
    int fds[kMaxFrameFds];
    const unsigned nfds = frame_fds(flags);
    for (unsigned i = 0; i < nfds; ++i) {
      fds[i] = flags & kEventFds ? ::eventfd(0, EFD_CLOEXEC) : ::memfd_create("vnet-user-fuzz", MFD_CLOEXEC);
      VNET_FUZZ_CHECK(fds[i] >= 0, "cannot create fd %u", i);
      if (!(flags & kEventFds)) VNET_FUZZ_CHECK(::ftruncate(fds[i], 4096) == 0, "ftruncate");
    }
    // Not vu::send_fds: it refuses more fds than a message may carry.
    iovec iov{const_cast<uint8_t*>(p), len};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFrameFds)] = {};
    if (nfds) {
      mh.msg_control = ctl;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    const ssize_t n = ::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    for (unsigned i = 0; i < nfds; ++i) ::close(fds[i]);
    if (n > 0) stream.insert(stream.end(), p, p + n);
  }
  void hang_up() {
    ::shutdown(fd, SHUT_WR);
    hung_up = true;
  }
  // Everything the frontend sent since the last call: bytes, and how many
  // fds rode on them (closed here).
  size_t drain(std::vector<uint8_t>& out) {
    out.clear();
    size_t nfds = 0;
    uint8_t buf[1024];
    for (;;) {
      bool truncated = false;
      const ssize_t n = recv_drop_fds(fd, buf, sizeof buf, &nfds, &truncated);
      if (n <= 0) return nfds;
      VNET_FUZZ_CHECK(!truncated, "more fds than a request carries");
      out.insert(out.end(), buf, buf + n);
    }
  }
};

size_t inq(int s) {
  int n = 0;
  VNET_FUZZ_CHECK(::ioctl(s, FIONREAD, &n) == 0 && n >= 0, "FIONREAD");
  return static_cast<size_t>(n);
}

// Shut down by the frontend: the backend never shuts its receiving side
// nor closes before the end, so a hang-up on this end is the frontend's own
// shutdown(SHUT_RDWR).
bool shut(int s) {
  pollfd p{s, POLLIN | POLLOUT, 0};
  VNET_FUZZ_CHECK(::poll(&p, 1, 0) == 1, "poll");
  return p.revents & POLLHUP;
}

bool is_errno(int rc) { return rc == 0 || (rc < 0 && rc > -4096); }

// What one call sends and what reply it takes.
struct Expect {
  uint32_t req = 0;
  uint32_t size = 0;           // request payload bytes
  unsigned nfds = 0;           // fds on the request
  bool reply = false;          // a reply of its own (GET_*)
  bool ackable = false;        // NEED_REPLY when REPLY_ACK is negotiated
  bool refused_early = false;  // rejected before anything is sent
  uint32_t reply_size = 8;
};

struct Fds {
  int v[vu::kMaxRegions + 1];
  unsigned n = 0;
  int add(int fd) {
    VNET_FUZZ_CHECK(fd >= 0, "cannot create an fd");
    v[n++] = fd;
    return fd;
  }
  int memfd() {
    const int fd = add(::memfd_create("vnet-user-fuzz", MFD_CLOEXEC));
    VNET_FUZZ_CHECK(::ftruncate(fd, 4096) == 0, "ftruncate");
    return fd;
  }
  ~Fds() {
    for (unsigned i = 0; i < n; ++i) ::close(v[i]);
  }
};

void run_call(Frontend& fe, Backend& be, Reader& in, uint64_t& proto, bool cancel) {
  const uint8_t which = in.u8() % kCallCount;
  const uint8_t a = in.u8();
  const uint64_t v = in.u64();
  const int s = fe.sock();
  const bool shut0 = shut(s);
  const size_t inq0 = inq(s);
  fe.set_pace(vu::now_ns() + kDeadlineNs, g.cancel_fd);
  const uint64_t one = 1;
  if (cancel) VNET_FUZZ_CHECK(::write(g.cancel_fd, &one, 8) == 8, "cancel");

  Expect e;
  Fds fds;
  int rc = 0;
  uint64_t got64 = ~uint64_t{0};
  uint32_t base = ~0u;
  uint8_t status = 0;
  auto get = [&](uint32_t req, int (Frontend::*fn)(uint64_t*)) {
    e.req = req;
    e.reply = true;
    rc = (fe.*fn)(&got64);
  };
  auto ack = [&](uint32_t req, uint32_t size) {
    e.req = req;
    e.size = size;
    e.ackable = true;
  };
  switch (static_cast<Call>(which)) {
    case kGetFeatures:
      get(vu::GET_FEATURES, &Frontend::get_features);
      break;
    case kGetProtocolFeatures:
      get(vu::GET_PROTOCOL_FEATURES, &Frontend::get_protocol_features);
      break;
    case kGetQueueNum:
      get(vu::GET_QUEUE_NUM, &Frontend::get_queue_num);
      break;
    case kGetMaxMemSlots:
      get(vu::GET_MAX_MEM_SLOTS, &Frontend::get_max_mem_slots);
      break;
    case kGetStatus:
      e.req = vu::GET_STATUS;
      e.reply = true;
      rc = fe.get_status(&status);
      break;
    case kSetProtocolFeatures:
      e.req = vu::SET_PROTOCOL_FEATURES;
      e.size = 8;
      rc = fe.set_protocol_features(v);
      if (rc == 0) proto = v;
      break;
    case kSetOwner:
      ack(vu::SET_OWNER, 0);
      rc = fe.set_owner();
      break;
    case kSetFeatures:
      ack(vu::SET_FEATURES, 8);
      rc = fe.set_features(v);
      break;
    case kSetMemTable: {
      const unsigned n = a % 10;
      std::vector<virtio_user::MemRegionFd> regions;
      for (unsigned i = 0; i < n; ++i)
        regions.push_back({vu::MemRegion{v + i * 4096ull, 4096, v + i * 4096ull, 0}, fds.memfd()});
      ack(vu::SET_MEM_TABLE, 8 + 32 * n);
      e.nfds = n;
      e.refused_early = n == 0 || n > vu::kMaxRegions;
      rc = fe.set_mem_table(regions);
      break;
    }
    case kAddMemReg:
      ack(vu::ADD_MEM_REG, sizeof(vu::SingleMemRegion));
      e.nfds = 1;
      rc = fe.add_mem_reg({vu::MemRegion{v, 4096, v, 0}, fds.memfd()});
      break;
    case kSetVringNum:
      ack(vu::SET_VRING_NUM, 8);
      rc = fe.set_vring_num(a, static_cast<uint32_t>(v));
      break;
    case kSetVringBase:
      ack(vu::SET_VRING_BASE, 8);
      rc = fe.set_vring_base(a, static_cast<uint32_t>(v));
      break;
    case kSetVringEnable:
      ack(vu::SET_VRING_ENABLE, 8);
      rc = fe.set_vring_enable(a, v & 1);
      break;
    case kSetVringAddr:
      ack(vu::SET_VRING_ADDR, sizeof(vu::VringAddr));
      rc = fe.set_vring_addr(a, v, v + 0x1000, v + 0x2000);
      break;
    case kGetVringBase:
      e.req = vu::GET_VRING_BASE;
      e.size = 8;
      e.reply = true;
      rc = fe.get_vring_base(a, &base);
      break;
    case kSetVringFd: {
      static constexpr uint32_t kReqs[4] = {vu::SET_VRING_KICK, vu::SET_VRING_CALL, vu::SET_VRING_ERR,
                                            vu::SET_VRING_CALL};
      const bool nofd = a & 4;
      ack(kReqs[a & 3], 8);
      e.nfds = nofd ? 0 : 1;
      rc = fe.set_vring_fd(kReqs[a & 3], a >> 3, nofd ? -1 : fds.add(::eventfd(0, EFD_CLOEXEC)));
      break;
    }
    case kSetStatus:
      ack(vu::SET_STATUS, 8);
      rc = fe.set_status(static_cast<uint8_t>(v));
      break;
    case kNetSetMtu:
      ack(vu::NET_SET_MTU, 8);
      rc = fe.net_set_mtu(static_cast<uint16_t>(v));
      break;
    case kCallCount:
      break;
  }
  if (cancel) {
    uint64_t x;
    VNET_FUZZ_CHECK(::read(g.cancel_fd, &x, 8) == 8, "uncancel");
  }
  const bool want_ack = e.ackable && ((proto >> vu::pf::REPLY_ACK) & 1);
  const size_t inq1 = inq(s);
  VNET_FUZZ_CHECK(inq1 <= inq0, "the queue grew during a call");
  const size_t c = inq0 - inq1;
  VNET_FUZZ_CHECK(be.consumed + c <= be.stream.size(), "consumed more than was sent");
  const uint8_t* r = be.stream.data() + be.consumed;
  be.consumed += c;
  const bool shut1 = shut(s);
  if (g.log)
    std::fprintf(stderr, "user fuzz: %s%s -> %d, read %zu bytes%s%s\n", vu::req_name(e.req), want_ack ? " (ack)" : "",
                 rc, c, shut1 ? ", shut down" : "", cancel ? ", cancelled" : "");
  VNET_FUZZ_CHECK(is_errno(rc), "%s returned %d", vu::req_name(e.req), rc);
  VNET_FUZZ_CHECK(fe.protocol_features() == proto, "protocol features 0x%llx, negotiated 0x%llx",
                  static_cast<unsigned long long>(fe.protocol_features()), static_cast<unsigned long long>(proto));

  // The request on the wire.
  std::vector<uint8_t> sent;
  const size_t sent_fds = be.drain(sent);
  if (shut0 || e.refused_early) {
    VNET_FUZZ_CHECK(sent.empty() && sent_fds == 0, "%s sent %zu bytes on a dead connection or a refused call",
                    vu::req_name(e.req), sent.size());
  } else {
    vu::Header h{};
    VNET_FUZZ_CHECK(sent.size() == sizeof h + e.size, "%s: %zu bytes on the wire, want %zu", vu::req_name(e.req),
                    sent.size(), sizeof h + e.size);
    std::memcpy(&h, sent.data(), sizeof h);
    VNET_FUZZ_CHECK(
        h.request == e.req && h.size == e.size && h.flags == (vu::FLAG_VERSION | (want_ack ? vu::FLAG_NEED_REPLY : 0)),
        "%s: request %u flags 0x%x size %u on the wire", vu::req_name(e.req), h.request, h.flags, h.size);
    VNET_FUZZ_CHECK(sent_fds == e.nfds, "%s: %zu fds sent, want %u", vu::req_name(e.req), sent_fds, e.nfds);
  }

  // The reply it read.
  if (shut0) {
    VNET_FUZZ_CHECK(rc != 0 && c == 0, "%s on a connection out of step: %d, read %zu bytes", vu::req_name(e.req), rc,
                    c);
    return;
  }
  if (e.refused_early) {
    VNET_FUZZ_CHECK(rc == -E2BIG && c == 0 && !shut1, "SET_MEM_TABLE of %u regions: %d", a % 10, rc);
    return;
  }
  if (!e.reply && !want_ack) {
    VNET_FUZZ_CHECK(rc == 0 && c == 0 && !shut1, "%s without a reply: %d, read %zu bytes", vu::req_name(e.req), rc, c);
    return;
  }
  vu::Header h{};
  uint64_t val = 0;
  bool framed = false;  // exactly one message with a reply header to this request
  if (c >= sizeof h) {
    std::memcpy(&h, r, sizeof h);
    framed = h.request == e.req && (h.flags & vu::FLAG_REPLY) &&
             (h.flags & vu::FLAG_VERSION_MASK) == vu::FLAG_VERSION && c == sizeof h + h.size;
    if (h.size >= 8 && c >= sizeof h + 8) std::memcpy(&val, r + sizeof h, 8);
  }
  const bool sized = framed && h.size == e.reply_size;
  const bool right_state = static_cast<uint32_t>(val) == a;  // GET_VRING_BASE: the ring asked about
  if (want_ack && sized && val != 0) {
    VNET_FUZZ_CHECK(rc == -EPROTO && !shut1, "%s refused (ack %llu): %d%s", vu::req_name(e.req),
                    static_cast<unsigned long long>(val), rc, shut1 ? ", shut down" : "");
  } else if (sized && (want_ack || e.req != vu::GET_VRING_BASE || right_state)) {
    VNET_FUZZ_CHECK(rc == 0 && !shut1, "%s: a right reply, yet %d%s", vu::req_name(e.req), rc,
                    shut1 ? ", shut down" : "");
    if (e.req == vu::GET_VRING_BASE)
      VNET_FUZZ_CHECK(base == static_cast<uint32_t>(val >> 32), "base %u, reply %u", base,
                      static_cast<uint32_t>(val >> 32));
    else if (e.req == vu::GET_STATUS)
      VNET_FUZZ_CHECK(status == static_cast<uint8_t>(val), "status %u, reply %u", status,
                      static_cast<unsigned>(val & 0xff));
    else if (e.reply)
      VNET_FUZZ_CHECK(got64 == val, "value 0x%llx, reply 0x%llx", static_cast<unsigned long long>(got64),
                      static_cast<unsigned long long>(val));
  } else {
    VNET_FUZZ_CHECK(rc != 0 && shut1, "%s: a wrong, short or missing reply (%zu bytes), yet %d%s", vu::req_name(e.req),
                    c, rc, shut1 ? "" : ", connection still up");
  }
}

void fuzz_frontend(Reader& in) {
  Frontend fe;
  VNET_FUZZ_CHECK(fe.connect(g.path, 0) == 0, "connect");
  Backend be;
  be.fd = ::accept4(g.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  VNET_FUZZ_CHECK(be.fd >= 0, "accept");
  uint64_t proto = 0;
  bool cancel = false;
  while (!in.empty()) {
    switch (in.u8() % kOpCount) {
      case kFrame: {
        const uint8_t flags = in.u8();
        size_t len = in.u16();
        if (len > in.left()) len = in.left();
        uint8_t buf[1 << 16];
        in.copy(buf, len);
        if (len && !be.hung_up) be.frame(buf, len, flags);
        break;
      }
      case kCall:
        run_call(fe, be, in, proto, cancel);
        cancel = false;
        break;
      case kCancel:
        cancel = true;
        break;
      case kHangup:
        if (!be.hung_up) be.hang_up();
        break;
    }
  }
  fe.close_all();
  ::close(be.fd);
}

// The transport's handshake (SET_OWNER, GET_FEATURES, GET_PROTOCOL_FEATURES,
// SET_PROTOCOL_FEATURES, GET_QUEUE_NUM) against every frame of the input.
// Without EAL the socket monitor cannot start (rte_ctrl_thread_create has
// no control cpuset), so a handshake that succeeds ends in -ENOMEM.
void fuzz_transport(Reader& in) {
  struct Frame {
    uint8_t flags;
    std::vector<uint8_t> b;
  };
  std::vector<Frame> frames;
  while (!in.empty()) {
    if (in.u8() % kOpCount != kFrame) continue;
    Frame f;
    f.flags = in.u8();
    size_t len = in.u16();
    if (len > in.left()) len = in.left();
    f.b.resize(len);
    in.copy(f.b.data(), len);
    if (len) frames.push_back(std::move(f));
  }
  Backend be;
  std::thread backend([&] {
    pollfd p{g.listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    be.fd = ::accept4(g.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (be.fd < 0) return;
    for (const Frame& f : frames) be.frame(f.b.data(), f.b.size(), f.flags);
    be.hang_up();
  });
  auto t = std::make_unique<virtio_user::VhostUserTransport>();
  virtio_user::UserOptions o;
  o.path = g.path;
  o.connect_timeout_ms = 0;
  const int rc = t->open(o);
  backend.join();
  VNET_FUZZ_CHECK(be.fd >= 0, "the transport never connected");
  if (g.log) std::fprintf(stderr, "user fuzz: transport open -> %d\n", rc);
  VNET_FUZZ_CHECK(is_errno(rc), "open returned %d", rc);
  if (rc == 0 || rc == -ENOMEM) {  // the handshake went through
    VNET_FUZZ_CHECK(t->max_queue_pairs() >= 1 && t->max_queue_pairs() <= 128, "%u queue pairs", t->max_queue_pairs());
    VNET_FUZZ_CHECK(!virtio::has(t->device_features(), virtio::feat::PROTOCOL_FEATURES),
                    "the vhost-user protocol bit offered as a device feature");
  }
  t.reset();
  std::vector<uint8_t> sink;
  be.drain(sink);
  ::close(be.fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g.log = std::getenv("VNET_FUZZ_LOG") != nullptr;
  // Every refused reply logs a line; millions of them would be the run.
  if (!g.log) rte_log_set_global_level(RTE_LOG_EMERG);
  g.path = std::string(1, '\0') + "vnet-fuzz-user-" + std::to_string(::getpid());
  sockaddr_un a;
  sock_addr(a);
  g.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  VNET_FUZZ_CHECK(g.listen_fd >= 0 && ::bind(g.listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                      ::listen(g.listen_fd, 4) == 0,
                  "listening socket: %s", std::strerror(errno));
  g.cancel_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  VNET_FUZZ_CHECK(g.cancel_fd >= 0, "eventfd");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Per input, not once: libFuzzer itself holds different fds at different times.
  const size_t fds0 = test::open_fds();
  Reader in(data, size);
  if (in.u8() & kModeTransport)
    fuzz_transport(in);
  else
    fuzz_frontend(in);
  VNET_FUZZ_CHECK(test::open_fds() == fds0, "fd leak: %zu open, %zu before", test::open_fds(), fds0);
  return 0;
}
