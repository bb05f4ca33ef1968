// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Input format of fuzz_vhost_messages, shared by the harness and fuzz_seeds so
// the two agree: a sequence of frames, each
//   u8 flags   bits 0-1: fds to attach (0..3); bit 2: eventfds, else memfds;
//              bits 3-5: memfd size = 4 KiB << n (<= 512 KiB)
//   u16 len    bytes of raw vhost-user message that follow (clipped to the input)
//   len bytes  written to the socket as is: 12-byte header + payload, any size
#pragma once

#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "virtio/features.h"
#include "vhost_user/protocol.h"

namespace vnet::fuzz::vhost_in {

inline constexpr uint8_t kFdMask = 0x3;
inline constexpr uint8_t kEventFds = 0x4;
inline constexpr unsigned kSizeShift = 3;
inline constexpr size_t memfd_size(uint8_t flags) { return size_t{4096} << ((flags >> kSizeShift) & 0x7); }
inline constexpr uint8_t memfds(unsigned n, unsigned size_log2_4k) {
  return static_cast<uint8_t>(n | size_log2_4k << kSizeShift);
}
// Longest frame worth sending: a full message and a few stray bytes.
inline constexpr size_t kMaxFrame = sizeof(vhost_user::Header) + vhost_user::kMaxPayload + 16;
// Name of the harness's memfds (the leak check counts their mappings).
inline constexpr const char* kMemfdName = "vnet-vhost-fuzz";

// One well-formed message as a frame (the seeds).
inline void frame(Writer& w, uint32_t req, const void* payload, uint32_t size, uint8_t flags = 0,
                  uint32_t hdr_flags = vhost_user::FLAG_VERSION) {
  w.u8(flags);
  w.u16(static_cast<uint16_t>(sizeof(vhost_user::Header) + size));
  w.u32(req);
  w.u32(hdr_flags);
  w.u32(size);
  w.bytes(payload, size);
}

}  // namespace vnet::fuzz::vhost_in
