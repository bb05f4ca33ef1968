// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Input format of fuzz_user_replies, shared by the harness and fuzz_seeds:
// the bytes a hostile vhost-user backend sends (raw frames, with fds) and,
// interleaved, the requests virtio_user::Frontend makes of it.
#pragma once

#include <cstdint>

#include "fuzz_util.h"
#include "vhost_user/protocol.h"

namespace vnet::fuzz::user_in {

//   u8 mode     bit 0: transport: every frame of the input is sent up front,
//               then the backend hangs up, and VhostUserTransport::open()
//               runs its handshake against that (only kFrame steps count);
//               else Frontend calls as the steps say
//   steps, each an op byte (mod kOpCount) and its operands:
enum Op : uint8_t {
  kFrame,   // u8 flags, u16 len, len bytes: written to the backend's end as is
  kCall,    // u8 which (mod kCallCount), u8 a, u64 v: one Frontend request
  kCancel,  // the next call starts with its cancel fd readable
  kHangup,  // the backend shuts its sending side: the frontend reads EOF after what is queued
  kOpCount
};
inline constexpr uint8_t kModeTransport = 1u << 0;

// kFrame flags: bits 0-1 how many fds to attach: 0, 1, 3 or 9 (more than a
// message may carry); bit 2 eventfds, else 4 KiB memfds.
inline constexpr uint8_t kFdMask = 0x3;
inline constexpr unsigned kMaxFrameFds = 9;
inline constexpr unsigned frame_fds(uint8_t flags) {
  constexpr unsigned n[4] = {0, 1, 3, kMaxFrameFds};
  return n[flags & kFdMask];
}
inline constexpr uint8_t kEventFds = 0x4;

// kCall which: the request, and what `a` and `v` mean for it.
enum Call : uint8_t {
  kGetFeatures,
  kGetProtocolFeatures,
  kSetProtocolFeatures,  // v
  kGetQueueNum,
  kGetMaxMemSlots,
  kSetOwner,
  kSetFeatures,  // v
  kSetMemTable,  // a % 10 regions (0 and 9: refused before anything is sent), one memfd each
  kAddMemReg,    // one memfd
  kSetVringNum,  // a: index, v: num
  kSetVringBase,
  kSetVringEnable,
  kSetVringAddr,  // a: index, v: desc (avail, used follow it)
  kGetVringBase,  // a: index
  kSetVringFd,    // a: bits 0-1 KICK/CALL/ERR, bit 2 no fd, bits 3-7 index; an eventfd
  kSetStatus,     // v
  kGetStatus,
  kNetSetMtu,  // v
  kCallCount
};

// One well-formed reply as a kFrame step (the seeds).
inline void reply(Writer& w, uint32_t req, const void* payload, uint32_t size,
                  uint32_t flags = vhost_user::FLAG_VERSION | vhost_user::FLAG_REPLY, uint8_t fd_flags = 0) {
  w.u8(kFrame);
  w.u8(fd_flags);
  w.u16(static_cast<uint16_t>(sizeof(vhost_user::Header) + size));
  w.u32(req);
  w.u32(flags);
  w.u32(size);
  w.bytes(payload, size);
}
inline void reply_u64(Writer& w, uint32_t req, uint64_t v) { reply(w, req, &v, 8); }
inline void call(Writer& w, Call which, uint8_t a = 0, uint64_t v = 0) {
  w.u8(kCall);
  w.u8(which);
  w.u8(a);
  w.u64(v);
}

}  // namespace vnet::fuzz::user_in
