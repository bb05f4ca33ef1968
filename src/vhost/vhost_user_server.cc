// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vhost-user protocol state machine and the control thread of one backend
// port; the request table and its handlers are in server_requests.cc. Ring
// changes go through quiesce() so they never race with a running burst.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "vhost/vhost_user_server.h"

#include <poll.h>
#include <rte_lcore.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/c_entry.h"
#include "common/log.h"
#include "vhost/settle.h"
#include "virtio/net_hdr.h"
#include "virtio/ring_layout.h"

namespace vnet::vhost {

namespace vu = vhost_user;
using virtio::has;

namespace {

// Call, kick and err fds must be eventfds: anything else (a pipe whose
// reader is gone raises SIGPIPE on write, a socket or FIFO may block) is
// refused. The name is the one the kernel gives every eventfd.
bool is_eventfd(int fd) {
  char path[48], target[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(path, target, sizeof target - 1);
  if (n < 0) return false;
  target[n] = 0;
  return std::strcmp(target, "anon_inode:[eventfd]") == 0;
}

// Readable (frontend -> device) rings are the odd ones: the frontend's
// transmit queues; even ones are its receive queues (5.1.2).
bool is_dequeue(unsigned idx) { return idx & 1; }

}  // namespace

// The reply to `req` carrying one u64.
void Server::make_u64(vu::Msg& r, uint32_t req, uint64_t v) {
  r = vu::Msg{};
  r.hdr = {req, vu::FLAG_VERSION | vu::FLAG_REPLY, sizeof(uint64_t)};
  r.p.u64 = v;
}

void Server::close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Server::Server(Vring* vrings, const ServerConfig& cfg, LinkHook hook, void* ctx)
    : vrings_(vrings), nvrings_(2u * cfg.queue_pairs), cfg_(cfg), hook_(hook), hook_ctx_(ctx) {
  for (unsigned i = 0; i < nvrings_; ++i) vrings_[i].port_id = cfg.port_id;
  mem_.set_limit(cfg.max_mem);
}

Server::~Server() { stop(); }

// ---- socket and thread ------------------------------------------------------

int Server::listen(const char* path) {
  sockaddr_un sa{};
  if (std::strlen(path) >= sizeof sa.sun_path) {
    VNET_VHOST_LOG(ERR, "%s: socket path too long: %s", cfg_.name.c_str(), path);
    return -ENAMETOOLONG;
  }
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct stat st;
  if (::stat(path, &st) == 0) {
    // Something is there: a live backend (refuse) or a stale socket (replace).
    // The probe connects without blocking: a listener whose backlog is full
    // (EAGAIN) is just as alive.
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const bool live =
        probe >= 0 && (::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno == EAGAIN);
    if (probe >= 0) ::close(probe);
    if (!S_ISSOCK(st.st_mode) || live) {
      VNET_VHOST_LOG(ERR, "%s: %s exists and is %s", cfg_.name.c_str(), path,
                     S_ISSOCK(st.st_mode) ? "in use" : "not a socket");
      ::close(fd);
      return -EADDRINUSE;
    }
    ::unlink(path);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 1) != 0) {
    const int e = errno;
    VNET_VHOST_LOG(ERR, "%s: cannot listen on %s: %s", cfg_.name.c_str(), path, std::strerror(e));
    ::close(fd);
    return -e;
  }
  listen_fd_ = fd;
  path_ = path;
  client_ = false;
  return 0;
}

int Server::set_client(const char* path) {
  if (std::strlen(path) >= sizeof(sockaddr_un{}.sun_path)) return -ENAMETOOLONG;
  path_ = path;
  client_ = true;
  return 0;
}

int Server::start(const char* thread_name) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return -errno;
  mem_.owner().wake_fd.store(wake_fd_, std::memory_order_relaxed);  // a memory fault wakes the thread
  stopping_.store(false);
  const int rc = rte_ctrl_thread_create(&thread_, thread_name, nullptr, c_entry<&Server::thread_main>, this);
  if (rc != 0) {
    VNET_VHOST_LOG(ERR, "%s: cannot create control thread: %s", cfg_.name.c_str(), std::strerror(rc));
    close_fd(wake_fd_);
    return -rc;
  }
  thread_running_ = true;
  return 0;
}

void Server::stop() {
  if (thread_running_) {
    stopping_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
    pthread_join(thread_, nullptr);
    thread_running_ = false;
  }
  close_conn();
  disconnect();
  mem_.owner().wake_fd.store(-1, std::memory_order_relaxed);
  close_fd(wake_fd_);
  if (listen_fd_ >= 0) {
    close_fd(listen_fd_);
    ::unlink(path_.c_str());
  }
}

void Server::close_conn() { close_fd(conn_fd_); }

void* Server::thread_main(void* arg) {
  static_cast<Server*>(arg)->run();
  return nullptr;
}

// Close the connection for a reason the frontend gave (logged by the caller
// or here), and forget everything it set up.
void Server::drop_frontend(const char* why) {
  if (why) conn_log(RTE_LOG_ERR, "%s; closing the connection", why);
  close_conn();
  disconnect();
}

void Server::run() {
  for (;;) {
    // Wake-ups are drained before what they announce is read: a stop or a
    // fault posted after this read leaves wake_fd_ readable, so the poll
    // below returns (drained after the checks, a stop could be lost and
    // close() would wait forever on this thread).
    uint64_t drain;
    [[maybe_unused]] ssize_t r = ::read(wake_fd_, &drain, sizeof drain);
    if (stopping_.load()) break;
    // A fault in the frontend's memory (it shrank or punched its file): the
    // handler already put anonymous pages in; the connection is done.
    if (mem_.owner().faults.load(std::memory_order_relaxed) != faults_seen_) {
      if (conn_fd_ >= 0) drop_frontend("the frontend took away memory it shared (SIGBUS caught in a guest region)");
      // Every fault so far belongs to the frontend just dropped: its rings
      // (other lcores, other rings) may have faulted again until disconnect()
      // quiesced them and unmapped its memory; none may count against the next.
      const uint64_t f = mem_.owner().faults.load(std::memory_order_relaxed);
      std::lock_guard<std::mutex> g(mu_);
      st_.mem_faults += f - faults_seen_;
      faults_seen_ = f;
    }
    if (conn_fd_ < 0 && client_) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      sockaddr_un sa{};
      sa.sun_family = AF_UNIX;
      std::strcpy(sa.sun_path, path_.c_str());
      // Non-blocking: a listener with a full backlog must not hold this thread.
      if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        conn_fd_ = fd;
      } else {
        if (fd >= 0) ::close(fd);
        pollfd w{wake_fd_, POLLIN, 0};
        ::poll(&w, 1, 1000);  // retry once a second until stopped
        continue;
      }
    } else if (conn_fd_ < 0) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 || (p[1].revents & POLLIN)) continue;
      if (!(p[0].revents & POLLIN)) continue;
      conn_fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn_fd_ < 0) continue;
    } else {
      pollfd p[2] = {{conn_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 || (p[1].revents & POLLIN)) continue;
      if (!p[0].revents) continue;
      if (handle_one(conn_fd_) < 0) drop_frontend(nullptr);
      continue;
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      ++st_.connects;
      log_window_ns_ = 0;  // a new frontend, a new log budget
      log_held_ = 0;
    }
    VNET_VHOST_LOG(INFO, "%s: frontend connected on %s", cfg_.name.c_str(), path_.c_str());
  }
}

// ---- protocol ----------------------------------------------------------------

Server::Outcome Server::bad(const vu::Msg& m, const char* fmt, ...) {
  char detail[200];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  ++st_.errors;
  conn_log(RTE_LOG_ERR, "%s (%u): %s; closing the connection", vu::req_name(m.hdr.request), m.hdr.request, detail);
  return Outcome::Bad;
}

void Server::conn_log(uint32_t level, const char* fmt, ...) {
  constexpr uint32_t kLogBurst = 10;
  const int64_t now = vu::now_ns();
  if (log_window_ns_ == 0 || now - static_cast<int64_t>(log_window_ns_) > 1000000000) {
    log_window_ns_ = static_cast<uint64_t>(now);
    log_lines_ = 0;
  }
  if (log_lines_ >= kLogBurst) {
    ++log_held_;
    return;
  }
  ++log_lines_;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (log_held_) {
    rte_log(level, static_cast<uint32_t>(vnet_logtype_vhost), "vnet_vhost: %s: %s (%u earlier lines held back)\n",
            cfg_.name.c_str(), line, log_held_);
    log_held_ = 0;
  } else {
    rte_log(level, static_cast<uint32_t>(vnet_logtype_vhost), "vnet_vhost: %s: %s\n", cfg_.name.c_str(), line);
  }
}

// A call, kick or err fd: an eventfd, and never one a write can block on.
int Server::check_vring_fd(const vu::Msg& m, unsigned idx, int fd, bool notify) {
  if (!is_eventfd(fd)) return -EBADF;
  // The data path writes call fds: a blocking one whose counter the frontend
  // left at its maximum would stall the lcore. (The flag is shared with the
  // frontend's copy of the fd; a vhost-user frontend polls it anyway.)
  if (notify) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
      conn_log(RTE_LOG_ERR, "%s: vring %u: cannot make the call fd non-blocking", vu::req_name(m.hdr.request), idx);
      return -EBADF;
    }
  }
  return 0;
}

int Server::handle_one(int sock) {
  vu::Msg m{};
  int fds[vu::kMaxFds];
  size_t nfds = 0;
  // One deadline for the whole message: a frontend that trickles it a byte
  // at a time gets the same time as one that sends it at once.
  int rc = vu::recv(sock, m, fds, &nfds, vu::pace_ms(cfg_.msg_timeout_ms, wake_fd_));
  if (rc == -ECONNRESET) {
    VNET_VHOST_LOG(INFO, "%s: frontend closed the connection", cfg_.name.c_str());
    return rc;
  }
  if (rc == -ECANCELED) return rc;  // stopping, or the memory broke: run() says which
  if (rc < 0) {
    std::lock_guard<std::mutex> g(mu_);
    ++(rc == -ETIMEDOUT ? st_.timeouts : st_.errors);
    conn_log(RTE_LOG_ERR, "%s; closing the connection",
             rc == -ETIMEDOUT ? "frontend stalled in the middle of a message" : "malformed message frame");
    return rc;
  }
  Outcome o;
  bool changed;
  bool ack;
  vu::Msg reply{};
  {
    std::lock_guard<std::mutex> g(mu_);
    connected_ = true;
    ++st_.messages;
    o = dispatch(m, fds, nfds, reply);
    changed = update_locked();
    ack = (m.hdr.flags & vu::FLAG_NEED_REPLY) && has(protocol_features_, vu::pf::REPLY_ACK);
  }
  report(changed);
  if (o == Outcome::Bad) return -EPROTO;
  const bool reply_due =
      (m.hdr.flags & vu::FLAG_NEED_REPLY) || m.hdr.request == vu::GET_CONFIG || m.hdr.request == vu::GET_INFLIGHT_FD;
  if (o == Outcome::Unsupported && reply_due)
    make_u64(reply, m.hdr.request, 1);
  else if (o == Outcome::Nack && ack)
    make_u64(reply, m.hdr.request, 1);
  else if (o == Outcome::Ok && ack)
    make_u64(reply, m.hdr.request, 0);
  else if (o != Outcome::Replied)
    return 0;
  // Outside the lock, with a deadline: a frontend that does not read its
  // replies holds up nobody but itself, and not for long.
  rc = vu::send(sock, reply, nullptr, 0, vu::pace_ms(cfg_.msg_timeout_ms, wake_fd_));
  if (rc == 0 || rc == -ECANCELED) return rc;
  std::lock_guard<std::mutex> g(mu_);
  ++(rc == -ETIMEDOUT ? st_.timeouts : st_.errors);
  conn_log(RTE_LOG_ERR, "reply to %s: %s; closing the connection", vu::req_name(m.hdr.request),
           rc == -ETIMEDOUT ? "the frontend does not read its replies" : std::strerror(-rc));
  return rc;
}

// Before the memory table changes: stop every ring (their table copies and
// ring pointers refer to the old mappings) and remember which ran.
bool Server::memory_changed_prepare(bool* was_armed) {
  for (unsigned i = 0; i < nvrings_; ++i) {
    quiesce(vrings_[i]);
    was_armed[i] = vrings_[i].armed;
  }
  quarantine_if_abandoned();
  return true;
}

// After quiesce: a channel that had to be stopped with copies in flight
// may still write guest memory; what is unmapped from now on is quarantined.
void Server::quarantine_if_abandoned() {
  for (unsigned i = 0; i < nvrings_; ++i)
    if (vrings_[i].aq && vrings_[i].aq->ch && vrings_[i].aq->ch->dead) mem_.set_quarantine();
}

// After: re-arm those rings over the new table where they left off.
Server::Outcome Server::memory_changed_finish(const vu::Msg& m, const bool* was_armed) {
  Outcome o = Outcome::Ok;
  for (unsigned i = 0; i < nvrings_; ++i) {
    if (!was_armed[i]) continue;
    if (arm(i, true) != 0) {
      disarm(i);
      o = bad(m, "vring %u no longer inside guest memory", i);
    }
  }
  return o;
}

// Translate the ring addresses and initialise the device ring. The caller
// quiesced the ring. keep_pos: continue from the ring's current position.
int Server::arm(unsigned idx, bool keep_pos) {
  Vring& v = vrings_[idx];
  const ring::Layout layout = ring::layout_of(features_);
  const uint32_t n = v.num;
  if (n == 0 || !v.has_addr) return -EINVAL;
  const ring::RingAreas ar = ring::ring_areas(layout, n);
  uint8_t* d = mem_.user_to_local(v.addr.desc, ar.desc.bytes);
  uint8_t* a = mem_.user_to_local(v.addr.avail, ar.driver.bytes);
  uint8_t* u = mem_.user_to_local(v.addr.used, ar.device.bytes);
  if (!d || !a || !u) {
    VNET_VHOST_LOG(ERR,
                   "%s: vring %u: ring (desc 0x%" PRIx64 " avail 0x%" PRIx64 " used 0x%" PRIx64
                   ", size %u) outside guest memory",
                   cfg_.name.c_str(), idx, v.addr.desc, v.addr.avail, v.addr.used, n);
    return -EFAULT;
  }
  // Both the frontend's addresses and where they land in our mapping: a region
  // whose user_addr and mmap_offset differ modulo 16 misaligns aligned addresses.
  const auto mis = [](uint64_t uaddr, const uint8_t* local, unsigned al) {
    return uaddr % al != 0 || reinterpret_cast<uintptr_t>(local) % al != 0;
  };
  if (mis(v.addr.desc, d, ar.desc.align) || mis(v.addr.avail, a, ar.driver.align) ||
      mis(v.addr.used, u, ar.device.align)) {
    VNET_VHOST_LOG(ERR,
                   "%s: vring %u: misaligned ring addresses (desc 0x%" PRIx64 " avail 0x%" PRIx64 " used 0x%" PRIx64
                   ", or their place in the region's mapping)",
                   cfg_.name.c_str(), idx, v.addr.desc, v.addr.avail, v.addr.used);
    return -EINVAL;
  }
  const bool same = keep_pos && v.dq.layout() == layout && v.dq.size() != 0;
  const ring::Position pos = same ? v.dq.position() : ring::position_of(layout, v.base, u);
  v.mem = mem_.guest_table();
  ring::DeviceConfig c;
  c.layout = layout;
  c.size = n;
  c.indirect = has(features_, virtio::feat::INDIRECT_DESC);
  c.event_idx = has(features_, virtio::feat::EVENT_IDX);
  c.in_order = has(features_, virtio::feat::IN_ORDER);
  c.desc = d;
  c.avail = a;
  c.used = u;
  ring::start_at(c, pos);
  if (const int rc = arm_vring(v, c, features_, is_dequeue(idx)); rc != 0) {
    VNET_VHOST_LOG(ERR, "%s: vring %u: ring rejected (size %u, base 0x%x)", cfg_.name.c_str(), idx, n, pos.avail);
    return rc;
  }
  v.armed = true;
  return 0;
}

void Server::disarm(unsigned idx) {
  quiesce(vrings_[idx]);
  vrings_[idx].armed = false;
}

void Server::reset_vring(unsigned idx) {
  Vring& v = vrings_[idx];
  quiesce(v);  // copies in flight complete (or are stopped) here, before any unmap
  discard(v);  // frames the application never took
  v.armed = false;
  close_fd(v.kick_fd);
  close_fd(v.call_fd);
  v.num = 0;
  v.addr = {};
  v.has_addr = false;
  v.base = 0;
  v.kicked = false;
  v.enabled = false;
  clear_vring(v);
}

bool Server::update_locked() {
  const bool drv_ok = !has(protocol_features_, vu::pf::STATUS) || (status_ & virtio::status::DRIVER_OK) != 0;
  for (unsigned i = 0; i < nvrings_; ++i) {
    Vring& v = vrings_[i];
    const bool want = connected_ && v.armed && v.enabled && drv_ok && v.attached && started_;
    const bool is = v.gate.is_open();
    if (want && !is) publish(v);
    if (!want && is) quiesce(v);
  }
  const bool up =
      connected_ && drv_ok && vrings_[0].armed && vrings_[0].enabled && vrings_[1].armed && vrings_[1].enabled;
  link_.store(up, std::memory_order_release);
  const bool changed = up != link_reported_;
  link_reported_ = up;
  return changed;
}

void Server::report(bool changed) {
  if (!changed) return;
  const bool up = link_.load(std::memory_order_acquire);
  VNET_VHOST_LOG(INFO, "%s: link %s", cfg_.name.c_str(), up ? "up" : "down");
  if (hook_) hook_(hook_ctx_, up);
}

void Server::disconnect() {
  bool changed;
  {
    std::lock_guard<std::mutex> g(mu_);
    disconnect_locked();
    changed = update_locked();
  }
  report(changed);
}

void Server::disconnect_locked() {
  if (connected_) ++st_.disconnects;
  for (unsigned i = 0; i < nvrings_; ++i) reset_vring(i);
  quarantine_if_abandoned();
  mem_.clear();
  features_ = protocol_features_ = 0;
  status_ = 0;
  connected_ = false;
}

// ---- the ethdev side ------------------------------------------------------------

void Server::attach(unsigned idx, rte_mempool* mp, bool on) {
  if (idx >= nvrings_) return;
  bool changed;
  {
    std::lock_guard<std::mutex> g(mu_);
    quiesce(vrings_[idx]);
    if (!on) discard(vrings_[idx]);  // the queue goes away: so do frames it never delivered
    vrings_[idx].mp = mp;
    vrings_[idx].attached = on;
    changed = update_locked();
  }
  report(changed);
}

void Server::set_started(bool on) {
  bool changed;
  {
    std::lock_guard<std::mutex> g(mu_);
    started_ = on;
    changed = update_locked();
  }
  report(changed);
}

ServerStats Server::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return st_;
}

uint64_t Server::features() const {
  std::lock_guard<std::mutex> g(mu_);
  return features_;
}

uint16_t Server::mtu() const {
  std::lock_guard<std::mutex> g(mu_);
  return mtu_;
}

}  // namespace vnet::vhost
