// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vhost-user framing: sendmsg/recvmsg with SCM_RIGHTS, header and size
// validation. Nothing here trusts the peer: sizes, versions and fd counts
// are checked and surplus fds are closed; no syscall here blocks (each waits
// in poll() with what is left of the message's deadline) or raises SIGPIPE.
#include "vhost_user/protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace vnet::vhost_user {

const char* req_name(uint32_t req) noexcept {
  // One table, not one case per line:
  // clang-format off
  switch (req) {
#define N(x) \
  case x: return #x;
    N(GET_FEATURES) N(SET_FEATURES) N(SET_OWNER) N(RESET_OWNER) N(SET_MEM_TABLE) N(SET_LOG_BASE)
    N(SET_LOG_FD) N(SET_VRING_NUM) N(SET_VRING_ADDR) N(SET_VRING_BASE) N(GET_VRING_BASE)
    N(SET_VRING_KICK) N(SET_VRING_CALL) N(SET_VRING_ERR) N(GET_PROTOCOL_FEATURES)
    N(SET_PROTOCOL_FEATURES) N(GET_QUEUE_NUM) N(SET_VRING_ENABLE) N(SEND_RARP) N(NET_SET_MTU)
    N(SET_BACKEND_REQ_FD) N(IOTLB_MSG) N(SET_VRING_ENDIAN) N(GET_CONFIG) N(SET_CONFIG)
    N(GET_INFLIGHT_FD) N(SET_INFLIGHT_FD) N(RESET_DEVICE) N(GET_MAX_MEM_SLOTS) N(ADD_MEM_REG)
    N(REM_MEM_REG) N(SET_STATUS) N(GET_STATUS)
#undef N
    default: return "UNKNOWN";
  }
  // clang-format on
}

ssize_t send_fds(int sock, const iovec* iov, size_t niov, const int* fds, size_t nfds, int flags) noexcept {
  if (nfds > kMaxFds) {
    errno = EINVAL;
    return -1;
  }
  msghdr mh{};
  mh.msg_iov = const_cast<iovec*>(iov);
  mh.msg_iovlen = niov;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (nfds > 0) {
    std::memset(ctl, 0, sizeof ctl);
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return ::sendmsg(sock, &mh, flags);
}

int64_t now_ns() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

Pace pace_ms(int ms, int cancel_fd) noexcept {
  Pace p;
  p.deadline_ns = ms < 0 ? -1 : now_ns() + int64_t{ms} * 1000000;
  p.cancel_fd = cancel_fd;
  return p;
}

// Wait until `sock` is ready for `events`, within the pace: 0, -ETIMEDOUT,
// -ECANCELED, or -errno.
static int wait_ready(int sock, short events, const Pace& pace) noexcept {
  for (;;) {
    int timeout = -1;
    if (pace.deadline_ns >= 0) {
      const int64_t left = pace.deadline_ns - now_ns();
      if (left <= 0) return -ETIMEDOUT;
      timeout = static_cast<int>(left / 1000000 + 1);
    }
    pollfd p[2] = {{sock, events, 0}, {pace.cancel_fd, POLLIN, 0}};
    const int r = ::poll(p, pace.cancel_fd >= 0 ? 2 : 1, timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (pace.cancel_fd >= 0 && (p[1].revents & POLLIN)) return -ECANCELED;
    if (p[0].revents) return 0;  // ready, or hung up / error: the syscall says which
  }
}

int send(int sock, const Msg& m, const int* fds, size_t nfds, const Pace& pace) noexcept {
  if (nfds > kMaxFds || m.hdr.size > kMaxPayload) return -EINVAL;
  // Two pieces: Msg has padding between the 12-byte header and the payload.
  iovec iov[2] = {{const_cast<Header*>(&m.hdr), sizeof(Header)}, {const_cast<Payload*>(&m.p), m.hdr.size}};
  size_t niov = m.hdr.size ? 2 : 1;
  iovec* cur = iov;
  bool fds_sent = nfds == 0;
  for (;;) {
    // The fds travel with the first byte; a stream socket may take the rest later.
    const ssize_t n =
        send_fds(sock, cur, niov, fds_sent ? nullptr : fds, fds_sent ? 0 : nfds, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (const int rc = wait_ready(sock, POLLOUT, pace); rc != 0) return rc;
      continue;
    }
    if (n < 0) return -errno;
    fds_sent = true;
    size_t left = static_cast<size_t>(n);
    while (niov > 0 && left >= cur->iov_len) {
      left -= cur->iov_len;
      ++cur;
      --niov;
    }
    if (niov == 0) return 0;
    cur->iov_base = static_cast<uint8_t*>(cur->iov_base) + left;
    cur->iov_len -= left;
  }
}

int send(int sock, const Msg& m, const int* fds, size_t nfds) noexcept { return send(sock, m, fds, nfds, Pace{}); }

static int read_full(int sock, void* buf, size_t len, const Pace& pace) noexcept {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = ::recv(sock, p, len, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (const int rc = wait_ready(sock, POLLIN, pace); rc != 0) return rc;
      continue;
    }
    if (n < 0) return -errno;
    if (n == 0) return -EBADMSG;  // closed mid-message
    p += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

void close_fds(int* fds, size_t nfds) noexcept {
  for (size_t i = 0; i < nfds; ++i)
    if (fds[i] >= 0) {
      ::close(fds[i]);
      fds[i] = -1;
    }
}

int recv(int sock, Msg& m, int* fds, size_t* nfds) noexcept { return recv(sock, m, fds, nfds, Pace{}); }

int recv(int sock, Msg& m, int* fds, size_t* nfds, const Pace& pace) noexcept {
  *nfds = 0;
  iovec iov{&m.hdr, sizeof(Header)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (const int rc = wait_ready(sock, POLLIN, pace); rc != 0) return rc;
      continue;
    }
    break;
  }
  if (n < 0) return -errno;
  if (n == 0) return -ECONNRESET;
  // Collect fds first so that every error path below can close them.
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < kMaxFds)
        fds[(*nfds)++] = fd;
      else
        ::close(fd);
    }
  }
  const bool truncated = mh.msg_flags & MSG_CTRUNC;
  int rc = 0;
  if (static_cast<size_t>(n) < sizeof(Header))
    rc = read_full(sock, reinterpret_cast<uint8_t*>(&m.hdr) + n, sizeof(Header) - n, pace);
  if (rc == 0 && (truncated || (m.hdr.flags & FLAG_VERSION_MASK) != FLAG_VERSION || m.hdr.size > kMaxPayload))
    rc = -EBADMSG;
  if (rc == 0 && m.hdr.size > 0) rc = read_full(sock, &m.p, m.hdr.size, pace);
  if (rc != 0) {
    close_fds(fds, *nfds);
    *nfds = 0;
    return rc == -EBADMSG || rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -ECANCELED ? rc : -EBADMSG;
  }
  return 0;
}

}  // namespace vnet::vhost_user
