// vhost-user framing: sendmsg/recvmsg with SCM_RIGHTS, header and size
// validation. Nothing here trusts the peer: sizes, versions and fd counts
// are checked and surplus fds are closed.
#include "virtio/vhost_user.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vnet::vhost_user {

const char* req_name(uint32_t req) noexcept {
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
}

int expected_size(uint32_t req) noexcept {
  switch (req) {
    case GET_FEATURES: case SET_OWNER: case RESET_OWNER: case GET_PROTOCOL_FEATURES:
    case GET_QUEUE_NUM: case GET_MAX_MEM_SLOTS: case GET_STATUS: case RESET_DEVICE:
      return 0;
    case SET_FEATURES: case SET_PROTOCOL_FEATURES: case SET_VRING_KICK: case SET_VRING_CALL:
    case SET_VRING_ERR: case SEND_RARP: case NET_SET_MTU: case SET_STATUS: case SET_LOG_FD:
      return 8;
    case SET_VRING_NUM: case SET_VRING_BASE: case GET_VRING_BASE: case SET_VRING_ENABLE:
      return sizeof(VringState);
    case SET_VRING_ADDR:
      return sizeof(VringAddr);
    case ADD_MEM_REG: case REM_MEM_REG:
      return sizeof(SingleMemRegion);
    default:
      return -1;  // SET_MEM_TABLE: 8 + 32 * nregions; others: not handled
  }
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

int send(int sock, const Msg& m, const int* fds, size_t nfds) noexcept {
  if (nfds > kMaxFds || m.hdr.size > kMaxPayload) return -EINVAL;
  // Two pieces: Msg has padding between the 12-byte header and the payload.
  const iovec iov[2] = {{const_cast<Header*>(&m.hdr), sizeof(Header)}, {const_cast<Payload*>(&m.p), m.hdr.size}};
  for (;;) {
    const ssize_t n = send_fds(sock, iov, m.hdr.size ? 2 : 1, fds, nfds, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) != sizeof(Header) + m.hdr.size) return -EIO;
    return 0;
  }
}

static int read_full(int sock, void* buf, size_t len) noexcept {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = ::recv(sock, p, len, 0);
    if (n < 0 && errno == EINTR) continue;
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

int recv(int sock, Msg& m, int* fds, size_t* nfds) noexcept {
  *nfds = 0;
  iovec iov{&m.hdr, sizeof(Header)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return -ECONNRESET;
  // Collect fds first so that every error path below can close them.
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < kMaxFds) fds[(*nfds)++] = fd; else ::close(fd);
    }
  }
  const bool truncated = mh.msg_flags & MSG_CTRUNC;
  int rc = 0;
  if (static_cast<size_t>(n) < sizeof(Header)) rc = read_full(sock, reinterpret_cast<uint8_t*>(&m.hdr) + n, sizeof(Header) - n);
  if (rc == 0 && (truncated || (m.hdr.flags & FLAG_VERSION_MASK) != FLAG_VERSION || m.hdr.size > kMaxPayload))
    rc = -EBADMSG;
  if (rc == 0 && m.hdr.size > 0) rc = read_full(sock, &m.p, m.hdr.size);
  if (rc != 0) {
    close_fds(fds, *nfds);
    *nfds = 0;
    return rc == -EBADMSG || rc == -ECONNRESET ? rc : -EBADMSG;
  }
  return 0;
}

}  // namespace vnet::vhost_user
