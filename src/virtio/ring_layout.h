// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Wire layouts of the split (virtio 1.x section 2.7) and packed (section 2.8)
// virtqueues, plus where each part sits in one contiguous ring allocation.
// Every size and offset is pinned by static_assert; flags are plain masks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio/endian.h"

namespace vnet::virtio {

// ---- descriptor flags, common to both layouts (2.7.5, 2.8.x) -------------
inline constexpr uint16_t DESC_F_NEXT = 1;
inline constexpr uint16_t DESC_F_WRITE = 2;
inline constexpr uint16_t DESC_F_INDIRECT = 4;
// packed only (2.8.1)
inline constexpr uint16_t DESC_F_AVAIL = 1u << 7;
inline constexpr uint16_t DESC_F_USED = 1u << 15;

inline constexpr uint32_t SPLIT_MAX_SIZE = 32768;   // 2.7: power of 2, at most 32768
inline constexpr uint32_t PACKED_MAX_SIZE = 32768;  // 2.8: wrap bit lives in bit 15 of off_wrap

// Both layouts' descriptors are 16 bytes, and so are their tables' alignment
// (2.7, 2.8.10): indirect tables are counted and sized in these units.
inline constexpr uint32_t DESC_SIZE = 16;
inline constexpr uint32_t DESC_ALIGN = 16;

// The packed ring carries a position (0..size-1, so 15 bits) with its wrap
// counter in bit 15: in off_wrap (2.8.10) and in vhost-user's vring base
// (next avail index | wrap << 15; QEMU adds the used one in bits 16-31).
inline constexpr uint16_t PACKED_WRAP_BIT = 1u << 15;
inline constexpr uint16_t PACKED_POS_MASK = PACKED_WRAP_BIT - 1;

// Split ring, event index suppression: an index half the 16-bit space away
// from the current one, which the other side never crosses in practice.
inline constexpr uint16_t EVENT_IDX_FAR = 1u << 15;

// ---- split ring --------------------------------------------------------
struct SplitDesc {
  le64 addr;
  le32 len;
  le16 flags;
  le16 next;
};
static_assert(sizeof(SplitDesc) == DESC_SIZE);
static_assert(offsetof(SplitDesc, addr) == 0 && offsetof(SplitDesc, len) == 8);
static_assert(offsetof(SplitDesc, flags) == 12 && offsetof(SplitDesc, next) == 14);

inline constexpr uint16_t AVAIL_F_NO_INTERRUPT = 1;  // 2.7.7
inline constexpr uint16_t USED_F_NO_NOTIFY = 1;      // 2.7.10

// struct virtq_avail { le16 flags; le16 idx; le16 ring[N]; le16 used_event; }
struct SplitAvailHdr {
  le16 flags;
  le16 idx;
};
static_assert(sizeof(SplitAvailHdr) == 4);

struct SplitUsedElem {
  le32 id;
  le32 len;
};
static_assert(sizeof(SplitUsedElem) == 8);

// struct virtq_used { le16 flags; le16 idx; virtq_used_elem ring[N]; le16 avail_event; }
struct SplitUsedHdr {
  le16 flags;
  le16 idx;
};
static_assert(sizeof(SplitUsedHdr) == 4);

constexpr size_t align_up(size_t v, size_t a) noexcept { return (v + a - 1) & ~(a - 1); }

// Placement of a split ring in one allocation: descriptors, then the
// available ring, then the used ring at `used_align` (4 in 1.x; 4096 legacy).
struct SplitLayout {
  uint32_t size = 0;
  size_t desc_off = 0;
  size_t avail_off = 0;
  size_t used_off = 0;
  size_t total = 0;

  // Bytes of each area of a ring of n entries.
  static constexpr size_t desc_bytes(uint32_t n) noexcept { return sizeof(SplitDesc) * size_t{n}; }
  // flags + idx + ring[n] + used_event
  static constexpr size_t avail_bytes(uint32_t n) noexcept { return sizeof(SplitAvailHdr) + 2u * size_t{n} + 2u; }
  // flags + idx + ring[n] + avail_event
  static constexpr size_t used_bytes(uint32_t n) noexcept {
    return sizeof(SplitUsedHdr) + sizeof(SplitUsedElem) * size_t{n} + 2u;
  }

  static constexpr SplitLayout make(uint32_t n, size_t used_align = 4) noexcept {
    SplitLayout l;
    l.size = n;
    l.desc_off = 0;
    l.avail_off = desc_bytes(n);
    l.used_off = align_up(l.avail_off + avail_bytes(n), used_align);
    l.total = l.used_off + used_bytes(n);
    return l;
  }
};
static_assert(SplitLayout::make(256).avail_off == 4096);
static_assert(SplitLayout::make(256).used_off == 4096 + 4 + 512 + 2 + 2);  // 4-aligned
static_assert(SplitLayout::make(256, 4096).used_off == 8192);
static_assert(SplitLayout::make(1).total == 16 + 4 + 2 + 2 + 4 + 8 + 2);

// ---- packed ring -------------------------------------------------------
struct PackedDesc {
  le64 addr;
  le32 len;
  le16 id;
  le16 flags;
};
static_assert(sizeof(PackedDesc) == DESC_SIZE);
static_assert(offsetof(PackedDesc, id) == 12 && offsetof(PackedDesc, flags) == 14);

// Event suppression structure (2.8.10): one written by the driver (read by
// the device), one written by the device (read by the driver).
inline constexpr uint16_t EVENT_F_ENABLE = 0;
inline constexpr uint16_t EVENT_F_DISABLE = 1;
inline constexpr uint16_t EVENT_F_DESC = 2;
inline constexpr uint16_t EVENT_WRAP_BIT = PACKED_WRAP_BIT;  // in off_wrap

struct PackedEvent {
  le16 off_wrap;
  le16 flags;
};
static_assert(sizeof(PackedEvent) == 4);

struct PackedLayout {
  uint32_t size = 0;
  size_t desc_off = 0;
  size_t driver_event_off = 0;  // driver -> device (avail-side suppression)
  size_t device_event_off = 0;  // device -> driver (used-side suppression)
  size_t total = 0;

  static constexpr PackedLayout make(uint32_t n) noexcept {
    PackedLayout l;
    l.size = n;
    l.desc_off = 0;
    l.driver_event_off = sizeof(PackedDesc) * n;  // 16-aligned, so 4-aligned
    l.device_event_off = l.driver_event_off + sizeof(PackedEvent);
    l.total = l.device_event_off + sizeof(PackedEvent);
    return l;
  }
};
static_assert(PackedLayout::make(3).total == 48 + 8);

// 2.7.7.2: true when the other side asked to be told once `event` was passed
// by moving from `old_idx` to `new_idx` (all mod 2^16).
constexpr bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) noexcept {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}
static_assert(need_event(5, 6, 5));
static_assert(!need_event(5, 5, 4));
static_assert(need_event(0xffff, 1, 0xfffe));  // across the 16-bit wrap
static_assert(!need_event(3, 1, 0xfffe));

// 2.8.10 with EVENT_F_DESC: did moving `advanced` slots forward to position
// `now` (wrap counter `wrap`) pass the event slot in `off_wrap`? Positions of
// the previous lap are placed at -size in one 16-bit space (size <= 2^15).
constexpr bool packed_need_event(uint16_t off_wrap, uint16_t now, bool wrap, uint16_t advanced,
                                 uint32_t size) noexcept {
  uint16_t ev = off_wrap & PACKED_POS_MASK;
  if (static_cast<bool>(off_wrap & EVENT_WRAP_BIT) != wrap) ev = static_cast<uint16_t>(ev - size);
  return need_event(ev, now, static_cast<uint16_t>(now - advanced));
}
static_assert(packed_need_event(252 | EVENT_WRAP_BIT, 4, false, 10, 256));  // previous lap
static_assert(packed_need_event(2 | EVENT_WRAP_BIT, 4, true, 10, 256));     // this lap
static_assert(!packed_need_event(5 | EVENT_WRAP_BIT, 4, true, 10, 256));    // not yet
static_assert(!packed_need_event(2 | EVENT_WRAP_BIT, 4, true, 0, 256));     // nothing moved

}  // namespace vnet::virtio
