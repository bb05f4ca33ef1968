// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vhost-user frontend requests and reply checking. REPLY_ACK is requested on
// every message that has no reply of its own once it is negotiated, so a
// backend's refusal is seen where it happens, not several messages later.
#include "virtio_user/frontend.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace vnet::virtio_user {

namespace vu = vnet::vhost_user;

namespace {
int make_addr(const std::string& path, sockaddr_un& a) {
  if (path.empty() || path.size() >= sizeof(a.sun_path)) return -ENAMETOOLONG;
  std::memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size());
  return 0;
}
uint64_t now_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000 + uint64_t(t.tv_nsec) / 1000000;
}
// Generous: DPDK vhost maps and walks all of our memory on SET_MEM_TABLE,
// seconds on a loaded machine.
constexpr int kReplyTimeoutMs = 20000;
}  // namespace

Frontend::~Frontend() { close_all(); }

void Frontend::disconnect() {
  if (sock_ >= 0) ::close(sock_);
  sock_ = -1;
  proto_ = 0;
}

void Frontend::close_all() {
  disconnect();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  listen_fd_ = -1;
}

int Frontend::connect(const std::string& path, int timeout_ms) {
  sockaddr_un a;
  if (int rc = make_addr(path, a)) return rc;
  path_ = path;
  const uint64_t end = now_ms() + static_cast<uint64_t>(timeout_ms);
  for (;;) {
    // Non-blocking: a listener whose backlog is full answers EAGAIN instead
    // of holding us (the codec never blocks on the socket either).
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return -errno;
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      sock_ = s;
      return 0;
    }
    const int err = errno;
    ::close(s);
    if ((err != ENOENT && err != ECONNREFUSED && err != EAGAIN) || now_ms() >= end) return -err;
    ::usleep(20000);
  }
}

int Frontend::listen(const std::string& path) {
  sockaddr_un a;
  if (int rc = make_addr(path, a)) return rc;
  path_ = path;
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -errno;
  ::unlink(path.c_str());
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 1) != 0) {
    const int err = errno;
    ::close(s);
    return -err;
  }
  listen_fd_ = s;
  return 0;
}

int Frontend::accept_peer(int timeout_ms) {
  if (listen_fd_ < 0) return -EINVAL;
  pollfd p{listen_fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) return -errno;
  if (r == 0) return -ETIMEDOUT;
  const int s = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (s < 0) return -errno;
  disconnect();
  sock_ = s;
  return 0;
}

vu::Pace Frontend::pace() const {
  vu::Pace p = vu::pace_ms(kReplyTimeoutMs, cancel_fd_);
  if (op_deadline_ns_ >= 0 && op_deadline_ns_ < p.deadline_ns) p.deadline_ns = op_deadline_ns_;
  return p;
}

// The connection is out of step with the backend: shut it down (the socket
// monitor sees the hang-up, reports the device gone and reconnects) so that
// no late reply is ever matched to a later request.
int Frontend::desync(int rc) {
  if (sock_ >= 0) ::shutdown(sock_, SHUT_RDWR);
  return rc;
}

int Frontend::wait_reply(uint32_t req, vu::Msg& r) {
  int fds[vu::kMaxFds];
  size_t nfds = 0;
  // One deadline for the whole reply: a backend that sends part of a header
  // and goes quiet costs kReplyTimeoutMs at most, then the connection.
  const int rc = vu::recv(sock_, r, fds, &nfds, pace());
  vu::close_fds(fds, nfds);  // no reply we ask for carries fds
  if (rc != 0) return desync(rc);
  if (r.hdr.request != req || !(r.hdr.flags & vu::FLAG_REPLY)) return desync(-EPROTO);
  return 0;
}

int Frontend::request(uint32_t req, const void* payload, uint32_t size, const int* fds, size_t nfds, bool ack) {
  if (sock_ < 0) return -ENOTCONN;
  vu::Msg m{};
  m.hdr.request = req;
  m.hdr.flags = vu::FLAG_VERSION;
  m.hdr.size = size;
  if (size) std::memcpy(&m.p, payload, size);
  const bool want_ack = ack && has_proto(vu::pf::REPLY_ACK);
  if (want_ack) m.hdr.flags |= vu::FLAG_NEED_REPLY;
  if (int rc = vu::send(sock_, m, fds, nfds, pace())) return desync(rc);
  if (!want_ack) return 0;
  vu::Msg r{};
  if (int rc = wait_reply(req, r)) return rc;
  if (r.hdr.size != 8) return desync(-EPROTO);
  return r.p.u64 == 0 ? 0 : -EPROTO;  // a refusal: the connection is still in step
}

int Frontend::get_u64(uint32_t req, uint64_t* v) {
  if (int rc = request(req, nullptr, 0, nullptr, 0, false)) return rc;
  vu::Msg r{};
  if (int rc = wait_reply(req, r)) return rc;
  if (r.hdr.size != 8) return desync(-EPROTO);
  *v = r.p.u64;
  return 0;
}

int Frontend::set_u64(uint32_t req, uint64_t v) { return request(req, &v, sizeof v); }

int Frontend::set_state(uint32_t req, uint32_t idx, uint32_t num) {
  const vu::VringState s{idx, num};
  return request(req, &s, sizeof s);
}

int Frontend::set_protocol_features(uint64_t f) {
  // The ack for this very message is governed by what we are setting.
  const int rc = request(vu::SET_PROTOCOL_FEATURES, &f, sizeof f, nullptr, 0, false);
  if (rc == 0) proto_ = f;
  return rc;
}

int Frontend::set_mem_table(const std::vector<MemRegionFd>& regions) {
  if (regions.empty() || regions.size() > vu::kMaxRegions) return -E2BIG;
  vu::MemTable t{};
  int fds[vu::kMaxRegions];
  t.nregions = static_cast<uint32_t>(regions.size());
  for (size_t i = 0; i < regions.size(); ++i) {
    t.regions[i] = regions[i].r;
    fds[i] = regions[i].fd;
  }
  return request(vu::SET_MEM_TABLE, &t, static_cast<uint32_t>(8 + 32 * regions.size()), fds, regions.size());
}

int Frontend::add_mem_reg(const MemRegionFd& r) {
  vu::SingleMemRegion s{};
  s.region = r.r;
  return request(vu::ADD_MEM_REG, &s, sizeof s, &r.fd, 1);
}

int Frontend::set_vring_addr(uint32_t idx, uint64_t desc, uint64_t avail, uint64_t used) {
  vu::VringAddr a{};
  a.index = idx;
  a.desc = desc;
  a.avail = avail;
  a.used = used;
  return request(vu::SET_VRING_ADDR, &a, sizeof a);
}

int Frontend::get_vring_base(uint32_t idx, uint32_t* base) {
  const vu::VringState s{idx, 0};
  if (int rc = request(vu::GET_VRING_BASE, &s, sizeof s, nullptr, 0, false)) return rc;
  vu::Msg r{};
  if (int rc = wait_reply(vu::GET_VRING_BASE, r)) return rc;
  if (r.hdr.size != sizeof(vu::VringState) || r.p.state.index != idx) return desync(-EPROTO);
  *base = r.p.state.num;
  return 0;
}

int Frontend::set_vring_fd(uint32_t req, uint32_t idx, int fd) {
  uint64_t v = idx & vu::VRING_IDX_MASK;
  if (fd < 0) v |= vu::VRING_NOFD;
  return request(req, &v, sizeof v, fd < 0 ? nullptr : &fd, fd < 0 ? 0 : 1);
}

int Frontend::get_status(uint8_t* s) {
  uint64_t v = 0;
  if (int rc = get_u64(vu::GET_STATUS, &v)) return rc;
  *s = static_cast<uint8_t>(v);
  return 0;
}

}  // namespace vnet::virtio_user
