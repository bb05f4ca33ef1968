// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The rig of test_hostile_peer: each scenario in a forked EAL child (watchdog,
// deadman for control calls and the lcore, RSS guard), the ports it polls, a raw
// vhost-user frontend over a memfd with hand-built split rings, a fake backend.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fd_audit.h"
#include "traffic.h"
#include "vhost_pair.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"
#include "vhost_user/protocol.h"

namespace vnet::test::hostile {

namespace vu = vnet::vhost_user;

constexpr unsigned kWatchdogS = 45;  // whole child; a hang becomes a failure
constexpr double kControlS = 5.0;    // a control call on a port must return within this
constexpr double kLcoreS = 5.0;      // one burst call on the lcore must return within this
constexpr const char* kMemName = "hostile-mem";

inline double now_s() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char b[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(b, sizeof b, f, ap);
  va_end(ap);
  return b;
}

// Threads started after rte_eal_init inherit the main lcore's single-CPU
// affinity; peers and monitors must not compete with the busy lcore for it.
inline void unpin_self() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
  pthread_setaffinity_np(pthread_self(), sizeof all, &all);
}

// One /proc/self/status fd, opened before set-up and read with pread: the
// deadman samples every 2 ms, and an fd opened per sample would show up in
// the fd-leak audit whenever the two met (a "leak" of one, now and then).
inline int status_fd() {
  static const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  return fd;
}
inline long vm_rss_kb() {
  const int fd = status_fd();
  if (fd < 0) return -1;
  char b[4096];
  const ssize_t n = ::pread(fd, b, sizeof b - 1, 0);
  if (n <= 0) return -1;
  b[n] = 0;
  const char* p = std::strstr(b, "VmRSS:");
  return p ? std::strtol(p + 6, nullptr, 10) : -1;
}

// Entries of /proc/self/fd, without the directory's own fd.
// Open fds, without DPDK's interrupt-thread epoll instance (fd_audit.h).
inline size_t proc_fds() { return open_fds_but_epoll(); }

// ---- the child's guards ------------------------------------------------------
// One deadman thread (started before EAL, so not pinned to the lcore's CPU):
// the main thread arms it around every call that must return in time; if one
// does not, the child reports what hung and exits. It also samples VmRSS while
// an RSS guard is armed (peak, and a ceiling that stops a runaway mapping
// before it hurts the machine). SIGALRM (the watchdog) reports the last step.
namespace detail {
inline std::atomic<int64_t> deadline_ns{0};
inline std::atomic<const char*> deadline_what{nullptr};
inline std::atomic<double> deadline_limit{0};
inline std::atomic<long> rss_base_kb{0}, rss_peak_kb{0}, rss_kill_kb{0};
inline char step[256] = "start-up";

inline int64_t mono_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

inline void on_alarm(int) {
  const char a[] = "FAILED: watchdog: the child was still running after its time; last step: ";
  [[maybe_unused]] ssize_t w = ::write(2, a, sizeof a - 1);
  w = ::write(2, step, ::strnlen(step, sizeof step));
  w = ::write(2, "\n", 1);
  ::signal(SIGALRM, SIG_DFL);
  ::raise(SIGALRM);
}

inline void deadman_main() {
  for (;;) {
    const long kill = rss_kill_kb.load();
    if (kill) {
      const long r = vm_rss_kb();
      long peak = rss_peak_kb.load();
      while (r > peak && !rss_peak_kb.compare_exchange_weak(peak, r)) {
      }
      if (r > kill) {
        std::fprintf(stderr,
                     "FAILED: VmRSS grew from %ld to %ld kB (+%ld MiB) during %s; stopped before it takes the "
                     "machine\n",
                     rss_base_kb.load(), r, (r - rss_base_kb.load()) / 1024, step);
        ::_exit(5);
      }
    }
    const int64_t d = deadline_ns.load(std::memory_order_acquire);
    if (d && mono_ns() > d) {
      const char* what = deadline_what.load();
      std::fprintf(stderr, "FAILED: %s has not returned after %.0f s\n", what ? what : "?", deadline_limit.load());
      ::_exit(4);
    }
    ::usleep(kill ? 2000 : 20000);
  }
}
}  // namespace detail

inline void step(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline void step(const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(detail::step, sizeof detail::step, f, ap);
  va_end(ap);
  std::fprintf(stderr, "step: %s\n", detail::step);  // where a child killed by a signal was
}

// While alive: the main thread must leave the scope within `limit_s`.
class Guard {
 public:
  Guard(const char* what, double limit_s) {
    detail::deadline_what.store(what);
    detail::deadline_limit.store(limit_s);
    detail::deadline_ns.store(detail::mono_ns() + int64_t(limit_s * 1e9), std::memory_order_release);
  }
  ~Guard() { detail::deadline_ns.store(0, std::memory_order_release); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

inline void rss_guard_begin(long kill_above_mb) {
  const long r = vm_rss_kb();
  detail::rss_base_kb = r;
  detail::rss_peak_kb = r;
  detail::rss_kill_kb = r + kill_above_mb * 1024;
}
// Peak growth over the base so far, in kB (sampled every 2 ms, plus now). The
// ceiling stays armed for the rest of the child.
inline long rss_growth_kb() {
  const long r = vm_rss_kb();
  return std::max(detail::rss_peak_kb.load(), r) - detail::rss_base_kb.load();
}

// ---- the raw vhost-user frontend -------------------------------------------
// Guest memory is one memfd named kMemName; the peer maps only its first
// `map_len` bytes (rings and buffers), whatever size the file and the region
// declared to the backend have. Guest and user addresses are the peer's own
// virtual addresses (as virtio-user does). Split rings of 256, no EVENT_IDX.
class RawFrontend {
 public:
  static constexpr uint16_t kN = 256;
  static constexpr size_t kRingOff[2] = {0x0000, 0x4000};
  static constexpr size_t kRxBufOff = 0x10000, kTxBufOff = 0x100000, kBufLen = 2048;
  static constexpr uint16_t kTxSlots = 64;
  static constexpr uint32_t kHdr = 12;  // virtio_net_hdr_v1 (VERSION_1)
  static constexpr size_t kMinMap = kTxBufOff + kTxSlots * kBufLen;

  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
  };
  static_assert(sizeof(Desc) == 16);

  int sock = -1;
  int memfd = -1;
  uint8_t* mem = nullptr;
  size_t map_len = 0;
  uint64_t region_size = 0;
  int kick[2] = {-1, -1};
  bool touch_ok = true;  // false once the memfd was shrunk under the mapping: no ring access here

  RawFrontend() = default;
  RawFrontend(const RawFrontend&) = delete;
  RawFrontend& operator=(const RawFrontend&) = delete;
  ~RawFrontend() {
    close_sock();
    if (mem) ::munmap(mem, map_len);
    if (memfd >= 0) ::close(memfd);
    for (int& k : kick)
      if (k >= 0) ::close(k);
  }
  void close_sock() {
    if (sock >= 0) ::close(sock);
    sock = -1;
  }

  int connect(const std::string& path, double timeout_s = 5) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    const double end = now_s() + timeout_s;
    for (;;) {
      sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (::connect(sock, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return 0;
      const int e = errno;
      close_sock();
      if (now_s() > end) return -e;
      ::usleep(10000);
    }
  }

  int send(uint32_t req, const void* p = nullptr, uint32_t size = 0, const int* fds = nullptr, size_t nfds = 0,
           uint32_t flags = vu::FLAG_VERSION) {
    vu::Msg m{};
    m.hdr = {req, flags, size};
    if (size) std::memcpy(&m.p, p, size);
    return vu::send(sock, m, fds, nfds);  // MSG_NOSIGNAL: a closed peer is -EPIPE, not a signal
  }
  int send_u64(uint32_t req, uint64_t v, const int* fds = nullptr, size_t nfds = 0) {
    return send(req, &v, 8, fds, nfds);
  }
  int get_u64(uint32_t req, uint64_t* v) {
    if (int rc = send(req)) return rc;
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1) return -ETIMEDOUT;
    vu::Msg r{};
    int fds[vu::kMaxFds];
    size_t n = 0;
    if (int rc = vu::recv(sock, r, fds, &n)) return rc;
    vu::close_fds(fds, n);
    if (r.hdr.request != req || r.hdr.size != 8) return -EPROTO;
    *v = r.p.u64;
    return 0;
  }

  // SET_OWNER, GET_FEATURES, SET_FEATURES(VERSION_1): no protocol features,
  // so a kick enables a ring and no message is acknowledged.
  int handshake() {
    uint64_t f = 0;
    int rc = send(vu::SET_OWNER);
    if (rc == 0) rc = get_u64(vu::GET_FEATURES, &f);
    if (rc == 0 && !virtio::has(f, virtio::feat::VERSION_1)) rc = -EPROTO;
    if (rc == 0) rc = send_u64(vu::SET_FEATURES, virtio::bit(virtio::feat::VERSION_1));
    return rc;
  }

  int make_memory(uint64_t file_size, size_t map) {
    memfd = ::memfd_create(kMemName, MFD_CLOEXEC);
    if (memfd < 0 || ::ftruncate(memfd, static_cast<off_t>(file_size)) != 0) return -errno;
    map_len = map;
    void* p = ::mmap(nullptr, map, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (p == MAP_FAILED) return -errno;
    mem = static_cast<uint8_t*>(p);
    region_size = file_size;
    return 0;
  }
  uint64_t gpa(size_t off) const { return reinterpret_cast<uint64_t>(mem) + off; }

  int set_mem_table() {
    vu::MemTable t{};
    t.nregions = 1;
    t.regions[0] = {gpa(0), region_size, gpa(0), 0};
    return send(vu::SET_MEM_TABLE, &t, 8 + 32, &memfd, 1);
  }

  // NUM, BASE, ADDR, KICK (an eventfd of ours), CALL (`call_fd`, or none).
  int setup_ring(uint32_t i, int call_fd) {
    const auto l = virtio::SplitLayout::make(kN);
    const uint64_t b = gpa(kRingOff[i]);
    vu::VringState st{i, kN};
    int rc = send(vu::SET_VRING_NUM, &st, sizeof st);
    st.num = 0;
    if (rc == 0) rc = send(vu::SET_VRING_BASE, &st, sizeof st);
    vu::VringAddr a{i, 0, b + l.desc_off, b + l.used_off, b + l.avail_off, 0};
    if (rc == 0) rc = send(vu::SET_VRING_ADDR, &a, sizeof a);
    if (rc == 0 && kick[i] < 0) kick[i] = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rc == 0) rc = send_u64(vu::SET_VRING_KICK, i, &kick[i], 1);
    if (rc == 0)
      rc = call_fd >= 0 ? send_u64(vu::SET_VRING_CALL, i, &call_fd, 1)
                        : send_u64(vu::SET_VRING_CALL, i | vu::VRING_NOFD);
    return rc;
  }

  // Handshake, memory (a file of `file_size`, `map` of it mapped here), both rings.
  int arm(int call0, int call1, uint64_t file_size = 2u << 20, size_t map = 2u << 20) {
    int rc = handshake();
    if (rc == 0) rc = make_memory(file_size, map);
    if (rc == 0) rc = set_mem_table();
    if (rc == 0) rc = setup_ring(0, call0);
    if (rc == 0) rc = setup_ring(1, call1);
    return rc;
  }

  // ---- driver side of the rings (ring 0: our Rx, the device writes; ring 1: our Tx)
  Desc* desc(int r) { return reinterpret_cast<Desc*>(mem + kRingOff[r]); }
  uint16_t* avail(int r) {
    return reinterpret_cast<uint16_t*>(mem + kRingOff[r] + virtio::SplitLayout::make(kN).avail_off);
  }
  uint8_t* used(int r) { return mem + kRingOff[r] + virtio::SplitLayout::make(kN).used_off; }
  uint16_t next_avail[2] = {0, 0}, last_used[2] = {0, 0};
  std::vector<uint16_t> tx_free;

  void add(int r, uint16_t id, size_t off, uint32_t len, uint16_t flags) {
    desc(r)[id] = Desc{gpa(off), len, flags, 0};
    avail(r)[2 + next_avail[r] % kN] = id;
    __atomic_store_n(&avail(r)[1], ++next_avail[r], __ATOMIC_RELEASE);
  }
  void offer_rx_all() {
    for (uint16_t id = 0; id < kN; ++id) add(0, id, kRxBufOff + id * kBufLen, kBufLen, virtio::DESC_F_WRITE);
    tx_free.clear();
    for (uint16_t id = 0; id < kTxSlots; ++id) tx_free.push_back(id);
  }
  // Used entries of ring r: (id, len) each; returns how many.
  template <class F>
  unsigned reap(int r, F&& f) {
    const uint16_t idx = __atomic_load_n(reinterpret_cast<uint16_t*>(used(r) + 2), __ATOMIC_ACQUIRE);
    unsigned n = 0;
    for (; last_used[r] != idx; ++last_used[r], ++n) {
      uint32_t e[2];
      std::memcpy(e, used(r) + 4 + 8 * (last_used[r] % kN), 8);
      f(static_cast<uint16_t>(e[0] % kN), e[1]);
    }
    return n;
  }
  unsigned reap_rx() {  // frames received; their buffers go back to the device
    return reap(0,
                [this](uint16_t id, uint32_t) { add(0, id, kRxBufOff + id * kBufLen, kBufLen, virtio::DESC_F_WRITE); });
  }
  unsigned reap_tx() {
    return reap(1, [this](uint16_t id, uint32_t) { tx_free.push_back(id); });
  }
  // A 64-byte broadcast frame behind a zero header; false when no slot is free.
  bool send_frame(uint64_t seq) {
    if (tx_free.empty()) return false;
    const uint16_t id = tx_free.back();
    tx_free.pop_back();
    uint8_t* b = mem + kTxBufOff + id * kBufLen;
    std::memset(b, 0, kHdr + 64);
    std::memset(b + kHdr, 0xff, 6);
    b[kHdr + 6] = 0x02;
    b[kHdr + 12] = 0x88;
    b[kHdr + 13] = 0xb5;
    std::memcpy(b + kHdr + 14, &seq, 8);
    add(1, id, kTxBufOff + id * kBufLen, kHdr + 64, 0);
    return true;
  }

  // Did the backend close the connection? (POLLRDHUP: no need to read what it sent.)
  bool peer_closed(int timeout_ms) {
    if (sock < 0) return true;
    pollfd p{sock, POLLRDHUP, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
  }
};

// A raw frontend on its own thread (not pinned to the lcore's CPU), running a
// script; the test talks to it through atomics. The thread waits for go().
class Hostile {
 public:
  using Script = std::function<void(Hostile&)>;
  Hostile(std::string path, Script s) : path_(std::move(path)), script_(std::move(s)) {
    th_ = std::thread([this] {
      unpin_self();
      while (!go_.load() && !stop.load()) ::usleep(1000);
      if (stop.load()) return;
      const int rc = f.connect(path_);
      if (rc != 0) {
        note("cannot connect to %s: %s", path_.c_str(), std::strerror(-rc));
        dropped = true;
        return;
      }
      script_(*this);
    });
  }
  ~Hostile() {
    stop = true;
    th_.join();
  }
  Hostile(const Hostile&) = delete;
  Hostile& operator=(const Hostile&) = delete;
  void go() { go_ = true; }

  RawFrontend f;
  std::atomic<bool> stop{false};
  std::atomic<bool> dropped{false};  // the backend closed the connection (or refused a send)
  std::atomic<int> stage{0};         // script-defined progress
  std::atomic<int> cmd{0};           // script-defined orders from the test
  std::atomic<uint64_t> rx_frames{0}, tx_frames{0};
  std::atomic<uint64_t> sent{0};

  void note(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    char b[300];
    va_list ap;
    va_start(ap, format);
    std::vsnprintf(b, sizeof b, format, ap);
    va_end(ap);
    std::fprintf(stderr, "peer: %s\n", b);
    std::lock_guard<std::mutex> g(mu_);
    note_ = b;
  }
  std::string notes() {
    std::lock_guard<std::mutex> g(mu_);
    return note_;
  }
  // Record a failed send: the peer is gone when the socket says so.
  bool sent_ok(int rc, const char* what) {
    if (rc == 0) return true;
    note("%s: %s", what, std::strerror(-rc));
    if (rc == -EPIPE || rc == -ECONNRESET || f.peer_closed(0)) dropped = true;
    return false;
  }
  // Wait (not reading) until the backend drops us, stop, or `until` holds.
  void watch(const std::function<bool()>& until = nullptr) {
    while (!stop && !dropped && !(until && until()))
      if (f.peer_closed(20)) dropped = true;
  }
  // Offer Rx buffers and send frames, recycling both, until `until` holds.
  void traffic(const std::function<bool()>& until) {
    uint64_t seq = 0;
    while (!stop && !dropped && f.touch_ok && !until()) {
      rx_frames += f.reap_rx();
      tx_frames += f.reap_tx();
      for (int i = 0; i < 8 && f.send_frame(seq); ++i) ++seq;
      if (f.peer_closed(1)) dropped = true;
    }
  }

 private:
  std::string path_;
  Script script_;
  std::atomic<bool> go_{false};
  std::mutex mu_;
  std::string note_;
  std::thread th_;
};

// ---- a fake vhost-user backend for net_vnet_user ------------------------------
// A thread listening on `path`, running a script over accepted connections;
// serve() answers like a well-behaved backend (VERSION_1, REPLY_ACK).
class FakeBackend {
 public:
  using Script = std::function<void(FakeBackend&)>;
  FakeBackend(std::string path, Script s) : path_(std::move(path)) {
    lfd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    ::unlink(path_.c_str());
    ok_ = ::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(lfd_, 4) == 0;
    th_ = std::thread([this, s] {
      unpin_self();
      if (ok_) s(*this);
      for (int& c : conns_)
        if (c >= 0) ::close(c);
    });
  }
  ~FakeBackend() {
    stop = true;
    th_.join();
    ::close(lfd_);
    ::unlink(path_.c_str());
  }
  FakeBackend(const FakeBackend&) = delete;
  FakeBackend& operator=(const FakeBackend&) = delete;
  bool listening() const { return ok_; }

  std::atomic<bool> stop{false};
  std::atomic<int> stage{0};
  std::atomic<int> cmd{0};

  // The next connection (owned here, closed at the end or by drop()), or -1.
  int accept(double timeout_s = 10) {
    const double end = now_s() + timeout_s;
    while (!stop && now_s() < end) {
      pollfd p{lfd_, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {
        const int s = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (s >= 0) conns_.push_back(s);
        return s;
      }
    }
    return -1;
  }
  void drop(int s) {
    for (int& c : conns_)
      if (c == s) {
        ::close(c);
        c = -1;
      }
  }
  // One message (fds closed), waiting while `stop` and `cmd` stay put; false: gone, stopped or ordered.
  bool next(int s, vu::Msg& m, int until_cmd = INT32_MAX) {
    for (;;) {
      if (stop || cmd >= until_cmd) return false;
      pollfd p{s, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      int fds[vu::kMaxFds];
      size_t n = 0;
      const int rc = vu::recv(s, m, fds, &n);
      vu::close_fds(fds, n);
      return rc == 0;
    }
  }
  static void reply(int s, uint32_t req, uint64_t v) {
    vu::Msg r{};
    r.hdr = {req, vu::FLAG_VERSION | vu::FLAG_REPLY, 8};
    r.p.u64 = v;
    vu::send(s, r);
  }
  static void serve(int s, const vu::Msg& m) {
    switch (m.hdr.request) {
      case vu::GET_FEATURES:
        reply(s, m.hdr.request, virtio::bit(virtio::feat::VERSION_1) | virtio::bit(virtio::feat::PROTOCOL_FEATURES));
        return;
      case vu::GET_PROTOCOL_FEATURES:
        reply(s, m.hdr.request, virtio::bit(vu::pf::REPLY_ACK));
        return;
      case vu::GET_VRING_BASE: {
        vu::Msg r{};
        r.hdr = {m.hdr.request, vu::FLAG_VERSION | vu::FLAG_REPLY, sizeof(vu::VringState)};
        r.p.state = m.p.state;
        vu::send(s, r);
        return;
      }
      default:
        if (m.hdr.flags & vu::FLAG_NEED_REPLY) reply(s, m.hdr.request, 0);
    }
  }
  // Serve until `req` arrives (returned in m, unanswered); false: gone or stopped.
  bool serve_until(int s, uint32_t req, vu::Msg& m) {
    while (next(s, m)) {
      if (m.hdr.request == req) return true;
      serve(s, m);
    }
    return false;
  }
  // Hold the connection open, unanswered, until stopped.
  void hold(int s) {
    while (!stop) {
      pollfd p{s, POLLRDHUP, 0};
      if (::poll(&p, 1, 50) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
    }
  }

 private:
  std::string path_;
  int lfd_ = -1;
  bool ok_ = false;
  std::vector<int> conns_;
  std::thread th_;
};

// ---- the child's ports and checks ------------------------------------------------
struct Options {
  bool mlock = false;                       // mlockall(MCL_CURRENT | MCL_FUTURE) first, as testpmd does
  const char* recovery = "net_vnet_user9";  // the next well-behaved frontend's vdev name
};

class Env {
 public:
  std::string dir, a_sock, b_sock, f_sock;
  rte_mempool* mp = nullptr;
  uint16_t att = 0, hv = 0, hu = 0;  // net_vnet_vhost0 (attacked); net_vnet_vhost1 <-> net_vnet_user1
  bool att_open = true;
  int failures = 0;
  size_t fds0 = 0;
  uint64_t att_rx = 0, att_tx = 0;

  explicit Env(std::string d)
      : dir(std::move(d)), a_sock(dir + "/a.sock"), b_sock(dir + "/b.sock"), f_sock(dir + "/f.sock") {}

  static void vsay(const char* tag, const char* f, va_list ap) __attribute__((format(printf, 2, 0))) {
    std::fputs(tag, stderr);
    std::vfprintf(stderr, f, ap);
    std::fputs("\n", stderr);
  }
  void fail(const char* f, ...) __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, f);
    vsay("FAILED: ", f, ap);
    va_end(ap);
    ++failures;
  }
  [[noreturn]] void fatal(const char* f, ...) __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, f);
    vsay("FAILED (set-up): ", f, ap);
    va_end(ap);
    ::_exit(1);
  }

  // `f` under the deadman; fails (and reports) when it took longer than limit_s.
  template <class F>
  auto timed(const std::string& what, double limit_s, F&& f) {
    std::snprintf(detail::step, sizeof detail::step, "%s", what.c_str());  // for the watchdog; not printed
    const double t0 = now_s();
    Guard g(what.c_str(), limit_s);
    auto r = f();
    const double el = now_s() - t0;
    if (el > limit_s) fail("%s took %.2f s (limit %.0f s)", what.c_str(), el, limit_s);
    return r;
  }

  uint64_t xstat(const char* name) {
    return timed(fmt("rte_eth_xstats_get(net_vnet_vhost0, %s)", name), kControlS, [&] {
      uint64_t id = 0, v = 0;
      if (rte_eth_xstats_get_id_by_name(att, name, &id) != 0 || rte_eth_xstats_get_by_id(att, &id, &v, 1) != 1)
        fail("xstat %s of net_vnet_vhost0 unreadable", name);
      return v;
    });
  }
  // The xstat `name` of net_vnet_vhost0 rises above `base` within 2 s (the
  // backend counts a disconnect just after it closed the socket).
  void expect_rises(const char* name, uint64_t base) {
    if (!pump_until([&] { return xstat(name) > base; }, 2)) fail("%s did not rise (still %lu)", name, base);
  }
  bool att_link_up() {
    rte_eth_link l{};
    rte_eth_link_get_nowait(att, &l);
    return l.link_status == RTE_ETH_LINK_UP;
  }

  void init() {
    const std::string prefix = "--file-prefix=hostile-" + std::to_string(::getpid());
    std::vector<std::string> args = {"hostile",
                                     "--no-huge",
                                     "-m",
                                     "512",
                                     "--no-pci",
                                     "-l",
                                     "0",
                                     prefix,
                                     "--vdev",
                                     "net_vnet_vhost0,iface=" + a_sock,
                                     "--vdev",
                                     "net_vnet_vhost1,iface=" + b_sock,
                                     "--vdev",
                                     "net_vnet_user1,path=" + b_sock,
                                     "--log-level=pmd.net.vnet*:info"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    step("rte_eal_init");
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
      fatal("rte_eal_init: %s", rte_strerror(rte_errno));
    if (rte_eth_dev_get_port_by_name("net_vnet_vhost0", &att) || rte_eth_dev_get_port_by_name("net_vnet_vhost1", &hv) ||
        rte_eth_dev_get_port_by_name("net_vnet_user1", &hu))
      fatal("ports not probed");
    mp = rte_pktmbuf_pool_create("hostile", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!mp) fatal("mempool: %s", rte_strerror(rte_errno));
    for (uint16_t p : {att, hv, hu})
      if (setup_port(p, mp, false, 1) != 0) fatal("set up port %u", p);
    if (!wait_link(hv, true)) fatal("healthy pair: link never came up");
    step("healthy pair before the attack");
    pump_for(0.2);
    if (healthy_bad_) fatal("the healthy pair fails before any attack");
    fds0 = proc_fds();
  }

  // One iteration of the lcore: a batch of verified frames each way on the
  // healthy pair, then a burst each way on the attacked port.
  void pump() {
    constexpr uint64_t kBatch = 32;
    constexpr uint32_t kLen = 128;
    {
      Guard g("verified traffic on the healthy pair (the lcore is blocked)", 10);
      const auto a = exchange(hu, hv, mp, kBatch, kLen, kBatch, 2.0);
      const auto b = exchange(hv, hu, mp, kBatch, kLen, kBatch, 2.0);
      account(a, to_vhost_, "net_vnet_user1 -> net_vnet_vhost1", kBatch);
      account(b, from_vhost_, "net_vnet_vhost1 -> net_vnet_user1", kBatch);
    }
    if (!att_open) return;
    Guard g("rte_eth_rx_burst/rte_eth_tx_burst on the attacked net_vnet_vhost0 (the lcore is blocked)", kLcoreS);
    rte_mbuf* pk[32];
    const uint16_t n = rte_eth_rx_burst(att, 0, pk, 32);
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(pk[i]);
    att_rx += n;
    uint16_t k = 0;
    for (; k < 8; ++k)
      if (!(pk[k] = make_frame(mp, att_tx + k, 128))) break;
    const uint16_t s = rte_eth_tx_burst(att, 0, pk, k);
    for (uint16_t i = s; i < k; ++i) rte_pktmbuf_free(pk[i]);
    att_tx += s;
  }
  void pump_for(double s) {
    const double end = now_s() + s;
    while (now_s() < end) pump();
  }
  // Pump until cond() (true) or `s` seconds passed (false).
  bool pump_until(const std::function<bool()>& cond, double s) {
    const double end = now_s() + s;
    while (now_s() < end) {
      if (cond()) return true;
      pump();
    }
    return cond();
  }

  // The next well-behaved frontend: `name` (a net_vnet_user) on a.sock,
  // verified frames both ways through net_vnet_vhost0, then gone again.
  void recover(const char* name) {
    const std::string args = "path=" + a_sock;
    const int rc = timed(fmt("recovery: rte_vdev_init(%s, %s)", name, args.c_str()), 10,
                         [&] { return rte_vdev_init(name, args.c_str()); });
    uint16_t p;
    if (rc != 0 || rte_eth_dev_get_port_by_name(name, &p) != 0) {
      fail("recovery: the next frontend (%s) cannot probe against net_vnet_vhost0: %d", name, rc);
      return;
    }
    if (timed(fmt("recovery: start %s", name), 10, [&] { return setup_port(p, mp, false, 1); }) != 0)
      fail("recovery: %s does not start", name);
    else if (!wait_link(att, true) || !wait_link(p, true))
      fail("recovery: link of net_vnet_vhost0/%s does not come up", name);
    else {
      step("recovery: traffic through %s", name);
      const auto a = exchange(p, att, mp, 512, 256, 64, 5.0);
      const auto b = exchange(att, p, mp, 512, 256, 64, 5.0);
      if (!a.ok(512) || !b.ok(512))
        fail(
            "recovery: verified frames through net_vnet_vhost0: to it sent %lu received %lu bad %lu dup %lu; "
            "from it sent %lu received %lu bad %lu dup %lu",
            a.sent, a.received, a.bad, a.dup, b.sent, b.received, b.bad, b.dup);
    }
    timed(fmt("recovery: rte_eth_dev_stop(%s)", name), kControlS, [&] { return rte_eth_dev_stop(p); });
    timed(fmt("recovery: rte_eth_dev_close(%s)", name), kControlS, [&] { return rte_eth_dev_close(p); });
    timed(fmt("recovery: rte_vdev_uninit(%s)", name), kControlS, [&] { return rte_vdev_uninit(name); });
    if (!wait_link(att, false)) fail("recovery: net_vnet_vhost0 still up after %s left", name);
  }

  // Close net_vnet_vhost0 and probe it again on a.sock (after a variant closed it).
  void reopen_att() {
    timed("rte_vdev_uninit(net_vnet_vhost0)", kControlS, [&] { return rte_vdev_uninit("net_vnet_vhost0"); });
    const std::string args = "iface=" + a_sock;
    if (rte_vdev_init("net_vnet_vhost0", args.c_str()) != 0 || rte_eth_dev_get_port_by_name("net_vnet_vhost0", &att) ||
        setup_port(att, mp, false, 1) != 0) {
      fail("net_vnet_vhost0 cannot be probed again on %s after its close", a_sock.c_str());
      return;
    }
    att_open = true;
  }

  // After the attack: recovery, the healthy pair, no leak, timed control
  // calls on net_vnet_vhost0, every mbuf back. Returns the exit code.
  int finish(const char* recovery_name) {
    if (!att_open) reopen_att();
    if (att_open) recover(recovery_name);
    step("healthy pair after the attack");
    pump_for(0.2);
    if (healthy_bad_) fail("healthy pair: %d batch(es) failed during the test (first above)", healthy_bad_);
    rte_eth_stats st{};
    rte_eth_stats_get(hv, &st);
    if (st.ipackets != to_vhost_ || st.opackets != from_vhost_ || st.ierrors || st.oerrors)
      fail("healthy pair: net_vnet_vhost1 counted %lu in / %lu out (errors %lu/%lu), verified %lu / %lu", st.ipackets,
           st.opackets, st.ierrors, st.oerrors, to_vhost_, from_vhost_);
    // The backend closes its side of a departed frontend on its own thread.
    const double end = now_s() + 3;
    while (proc_fds() != fds0 && now_s() < end) ::usleep(10000);
    if (const size_t n = proc_fds(); n != fds0)
      fail("fd leak: %zu open after recovery, %zu after set-up; now open: %s", n, fds0, fd_targets().c_str());
    if (const size_t m = count_maps(kMemName)) fail("%zu mapping(s) of the hostile memfd left", m);
    if (att_open) {
      timed("rte_eth_xstats_get(net_vnet_vhost0) at the end", kControlS, [&] {
        rte_eth_xstat x[512];
        return rte_eth_xstats_get(att, x, 512);
      });
      timed("rte_eth_dev_stop(net_vnet_vhost0) at the end", kControlS, [&] { return rte_eth_dev_stop(att); });
      timed("rte_eth_dev_close(net_vnet_vhost0) at the end", kControlS, [&] { return rte_eth_dev_close(att); });
    }
    for (uint16_t p : {hu, hv}) {  // the frontend first
      timed(fmt("rte_eth_dev_stop(port %u)", p), kControlS, [&] { return rte_eth_dev_stop(p); });
      timed(fmt("rte_eth_dev_close(port %u)", p), kControlS, [&] { return rte_eth_dev_close(p); });
    }
    if (const unsigned a = rte_mempool_avail_count(mp); a != mp->size)
      fail("mempool: %u of %u mbufs back after every port closed", a, mp->size);
    rte_mempool_free(mp);
    step("rte_eal_cleanup");
    rte_eal_cleanup();
    return failures ? 1 : 0;
  }

 private:
  void account(const TrafficResult& r, uint64_t& total, const char* dir_name, uint64_t want) {
    total += r.sent;
    if (r.ok(want)) return;
    if (healthy_bad_++ == 0)
      fail("healthy pair %s: sent %lu received %lu bad %lu dup %lu of %lu", dir_name, r.sent, r.received, r.bad, r.dup,
           want);
  }
  uint64_t to_vhost_ = 0, from_vhost_ = 0;
  int healthy_bad_ = 0;
};

// ---- the parent's side -----------------------------------------------------
struct ChildResult {
  bool ok = false;
  std::string why;
};

inline std::string describe_status(int st) {
  if (WIFSIGNALED(st)) {
    const int s = WTERMSIG(st);
    const char* abbrev = sigabbrev_np(s);
    std::string d = fmt("child killed by SIG%s (%s)", abbrev ? abbrev : "?", strsignal(s));
    if (s == SIGALRM) d += fmt(": the %u s watchdog fired", kWatchdogS);
    return d;
  }
  return fmt("child exited with status %d", WEXITSTATUS(st));
}

// Fork; the child sets up EAL and the ports, runs `attack` (0, or an exit
// code that skips the rest), then the common checks (Env::finish). Its output comes back through a pipe; on failure it
// is the message: the FAILED lines first, then the tail of everything.
inline ChildResult run_child(const Options& o, const std::function<int(Env&)>& attack) {
  ChildResult res;
  const std::string dir = private_dir();
  int pfd[2];
  if (dir.empty() || ::pipe2(pfd, O_CLOEXEC) != 0) {
    res.why = "no private directory or pipe";
    return res;
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pfd[1], 1);
    ::dup2(pfd[1], 2);
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::signal(SIGPIPE, SIG_DFL);  // a peer must not be able to kill us: do not hide it
    std::signal(SIGALRM, detail::on_alarm);
    ::alarm(kWatchdogS);
    if (o.mlock) {
      // Should the backend map what it is given, the kernel picks this child.
      if (FILE* f = std::fopen("/proc/self/oom_score_adj", "w")) {
        std::fputs("1000", f);
        std::fclose(f);
      }
      if (::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        std::fprintf(stderr, "FAILED (set-up): mlockall: %s\n", std::strerror(errno));
        ::_exit(1);
      }
    }
    status_fd();                                 // part of the set-up's fds, not of a sample
    std::thread(detail::deadman_main).detach();  // before EAL: not pinned to the lcore's CPU
    Env env(dir);
    env.init();
    const int rc = attack(env);
    ::_exit(rc ? rc : env.finish(o.recovery));
  }
  ::close(pfd[1]);
  std::string out;
  char buf[4096];
  const double end = now_s() + kWatchdogS + 30;
  for (;;) {
    pollfd p{pfd[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) {
      const ssize_t n = ::read(pfd[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    } else if (now_s() > end) {
      ::kill(pid, SIGKILL);
      out += "\n(parent: the child outlived its watchdog; killed)\n";
      break;
    }
  }
  ::close(pfd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  remove_dir(dir);
  remove_dir("/var/run/dpdk/hostile-" + std::to_string(pid));
  res.ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (std::getenv("VNET_HOSTILE_VERBOSE")) std::fprintf(stderr, "---- child output ----\n%s", out.c_str());
  if (res.ok) return res;
  std::string failed, tail;
  std::vector<std::string> lines;
  for (size_t s = 0; s < out.size();) {
    size_t e = out.find('\n', s);
    if (e == std::string::npos) e = out.size();
    lines.push_back(out.substr(s, e - s));
    s = e + 1;
  }
  for (const auto& l : lines)
    if (l.rfind("FAILED", 0) == 0) failed += "  " + l + "\n";
  for (size_t i = lines.size() > 25 ? lines.size() - 25 : 0; i < lines.size(); ++i) tail += "    " + lines[i] + "\n";
  res.why = describe_status(st) + "\n" + failed + "  last output lines:\n" + tail;
  return res;
}

}  // namespace vnet::test::hostile
