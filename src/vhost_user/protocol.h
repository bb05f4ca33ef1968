// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The vhost-user protocol (QEMU docs/interop/vhost-user.rst) as types, plus
// the framing both our frontend and our backend use: one message is a
// 12-byte header, a payload of at most kMaxPayload bytes and up to 8 fds.
// recv() validates sizes and fd counts before anyone looks at a payload.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace vnet::vhost_user {

enum Req : uint32_t {
  GET_FEATURES = 1,
  SET_FEATURES = 2,
  SET_OWNER = 3,
  RESET_OWNER = 4,
  SET_MEM_TABLE = 5,
  SET_LOG_BASE = 6,
  SET_LOG_FD = 7,
  SET_VRING_NUM = 8,
  SET_VRING_ADDR = 9,
  SET_VRING_BASE = 10,
  GET_VRING_BASE = 11,
  SET_VRING_KICK = 12,
  SET_VRING_CALL = 13,
  SET_VRING_ERR = 14,
  GET_PROTOCOL_FEATURES = 15,
  SET_PROTOCOL_FEATURES = 16,
  GET_QUEUE_NUM = 17,
  SET_VRING_ENABLE = 18,
  SEND_RARP = 19,
  NET_SET_MTU = 20,
  SET_BACKEND_REQ_FD = 21,
  IOTLB_MSG = 22,
  SET_VRING_ENDIAN = 23,
  GET_CONFIG = 24,
  SET_CONFIG = 25,
  GET_INFLIGHT_FD = 31,
  SET_INFLIGHT_FD = 32,
  RESET_DEVICE = 34,
  GET_MAX_MEM_SLOTS = 36,
  ADD_MEM_REG = 37,
  REM_MEM_REG = 38,
  SET_STATUS = 39,
  GET_STATUS = 40,
  REQ_MAX = 41,
};
const char* req_name(uint32_t req) noexcept;

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
namespace pf {
inline constexpr unsigned MQ = 0;
inline constexpr unsigned LOG_SHMFD = 1;
inline constexpr unsigned RARP = 2;
inline constexpr unsigned REPLY_ACK = 3;
inline constexpr unsigned MTU = 4;
inline constexpr unsigned BACKEND_REQ = 5;
inline constexpr unsigned CONFIG = 9;
inline constexpr unsigned INFLIGHT_SHMFD = 12;
inline constexpr unsigned RESET_DEVICE = 13;
inline constexpr unsigned CONFIGURE_MEM_SLOTS = 15;
inline constexpr unsigned STATUS = 16;
}  // namespace pf

inline constexpr uint32_t FLAG_VERSION = 0x1;
inline constexpr uint32_t FLAG_VERSION_MASK = 0x3;
inline constexpr uint32_t FLAG_REPLY = 0x4;
inline constexpr uint32_t FLAG_NEED_REPLY = 0x8;

inline constexpr uint64_t VRING_IDX_MASK = 0xff;
inline constexpr uint64_t VRING_NOFD = 1u << 8;  // SET_VRING_KICK/CALL/ERR without an fd

inline constexpr size_t kMaxFds = 8;
inline constexpr uint32_t kMaxRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS

struct Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;
};
static_assert(sizeof(Header) == 12);

struct VringState {
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

struct VringAddr {
  uint32_t index;
  uint32_t flags;  // bit 0: VHOST_VRING_F_LOG
  uint64_t desc;
  uint64_t used;
  uint64_t avail;
  uint64_t log;
};
static_assert(sizeof(VringAddr) == 40);

struct MemRegion {
  uint64_t guest_addr;
  uint64_t size;
  uint64_t user_addr;  // frontend's own virtual address of the region
  uint64_t mmap_offset;
};
static_assert(sizeof(MemRegion) == 32);

struct MemTable {
  uint32_t nregions;
  uint32_t padding;
  MemRegion regions[kMaxRegions];
};
static_assert(sizeof(MemTable) == 8 + 8 * 32);

struct SingleMemRegion {  // ADD_MEM_REG / REM_MEM_REG
  uint64_t padding;
  MemRegion region;
};
static_assert(sizeof(SingleMemRegion) == 40);

union Payload {
  uint64_t u64;
  VringState state;
  VringAddr addr;
  MemTable mem;
  SingleMemRegion one;
  uint8_t bytes[256 + 8];
};
inline constexpr size_t kMaxPayload = sizeof(Payload);

// In memory only: on the wire the payload follows the header without the
// padding this struct has (send/recv handle the two pieces separately).
struct Msg {
  Header hdr;
  Payload p;
};

// How long one whole message may take on the wire, and what cancels the
// wait. The socket itself may be blocking: send()/recv() never block in a
// syscall, they poll with what is left of the deadline. A peer that sends a
// message one byte at a time, or never reads its replies, costs at most the
// deadline, not a deadline per byte.
struct Pace {
  int64_t deadline_ns = -1;  // CLOCK_MONOTONIC; -1: wait as long as it takes
  int cancel_fd = -1;        // readable (an eventfd): give up with -ECANCELED
};
int64_t now_ns() noexcept;
// A Pace whose deadline is `ms` from now (ms < 0: none).
Pace pace_ms(int ms, int cancel_fd = -1) noexcept;

// One message over a unix stream socket. send(): 0 or -errno (never raises
// SIGPIPE). recv(): 0, -ECONNRESET on orderly close before a message began,
// -EBADMSG for a malformed frame (header version, size over the maximum,
// more fds than kMaxFds, closed mid-message); received fds are stored in
// fds[0..*nfds) and owned by the caller. Both: -ETIMEDOUT when the deadline
// passed, -ECANCELED when cancel_fd became readable; the connection is then
// out of step (part of a message may have crossed) and must be closed.
int send(int sock, const Msg& m, const int* fds, size_t nfds, const Pace& pace) noexcept;
int send(int sock, const Msg& m, const int* fds = nullptr, size_t nfds = 0) noexcept;
// The sendmsg(2) under send(): `niov` pieces and up to kMaxFds fds as
// SCM_RIGHTS, `flags` as for sendmsg. Bytes sent, or -1 with errno (EINVAL
// for too many fds). For callers that frame the bytes themselves (tests).
ssize_t send_fds(int sock, const iovec* iov, size_t niov, const int* fds, size_t nfds, int flags) noexcept;
int recv(int sock, Msg& m, int* fds, size_t* nfds, const Pace& pace) noexcept;
int recv(int sock, Msg& m, int* fds, size_t* nfds) noexcept;
void close_fds(int* fds, size_t nfds) noexcept;

}  // namespace vnet::vhost_user
