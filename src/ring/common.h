// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Shared vocabulary of the virtqueues: buffer segments, completions, the
// error counters each ring keeps, the log sink, and the driver/device
// concepts. No DPDK here: rings are plain memory, testable without EAL.
#pragma once

#include <array>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

// One guest-visible piece of a buffer, as the driver hands it to the ring.
struct Seg {
  uint64_t addr;  // IOVA the device will use
  uint32_t len;
  bool write;  // device-writable (receive side); readable ones must come first
};

// A completed buffer returned by the driver side.
struct UsedBuf {
  void* token;
  uint32_t len;  // bytes the device wrote
};

// Where a ring lives: local address (and the IOVA the transport tells the device).
struct RingMem {
  void* va = nullptr;
  uint64_t iova = 0;
};

// Private state memory of a driver-side ring (its per-descriptor shadows),
// provided by the caller: at least bytes_needed(size) bytes of the ring
// type, aligned to kShadowAlign. The ring never allocates; the memory must
// stay valid until the ring is re-initialised or dropped.
struct ShadowMem {
  void* va = nullptr;
  size_t bytes = 0;
};
inline constexpr size_t kShadowAlign = 8;

// Per-head indirect tables: `size * per_head` descriptors of 16 bytes.
struct IndirectPool {
  void* va = nullptr;
  uint64_t iova = 0;
  uint16_t per_head = 0;  // 0: no indirect tables
};

// Total device-writable bytes of a buffer, or -1 when a readable segment
// follows a writable one (2.7.4.2 / 2.8) or the total exceeds 2^32 - 1.
inline int64_t writable_len(const Seg* segs, uint16_t n) noexcept {
  uint64_t in_len = 0;
  bool seen_write = false;
  for (uint16_t k = 0; k < n; ++k) {
    if (segs[k].write) {
      seen_write = true;
      in_len += segs[k].len;
    } else if (seen_write) {
      return -1;
    }
  }
  return in_len > UINT32_MAX ? -1 : static_cast<int64_t>(in_len);
}

struct DriverConfig {
  uint32_t size = 0;  // split: power of two <= 32768; packed: 1..32768
  bool indirect = false;
  bool event_idx = false;  // split: VIRTIO_F_EVENT_IDX; packed: descriptor-specific events
  bool in_order = false;
  RingMem ring;           // SplitLayout/PackedLayout::make(size, used_align).total bytes, zeroed by init
  size_t used_align = 4;  // split: used ring alignment (4096 for legacy virtio 0.9.5 devices)
  IndirectPool indirect_pool;
  ShadowMem shadow;  // bytes_needed(size) bytes, kShadowAlign-aligned; init does not expect it zeroed
};

// The two virtqueue layouts (virtio 1.x 2.7 split, 2.8 packed).
enum class Layout : uint8_t { Split, Packed };

// Layout facts both sides share (the driver's and the device's dispatch
// files, driver_queue.h and device_queue.h, build on these).
inline Layout layout_of(uint64_t features) noexcept {
  return virtio::has(features, virtio::feat::RING_PACKED) ? Layout::Packed : Layout::Split;
}
inline const char* layout_name(Layout l) noexcept { return l == Layout::Packed ? "packed" : "split"; }
// Queue sizes a layout allows (2.7: a power of two; 2.8: any), at most 32768.
inline bool size_ok(Layout l, uint32_t n) noexcept {
  const uint32_t max = l == Layout::Packed ? virtio::PACKED_MAX_SIZE : virtio::SPLIT_MAX_SIZE;
  return n != 0 && n <= max && (l == Layout::Packed || (n & (n - 1)) == 0);
}
// How size_ok's rule reads in a log line.
inline const char* size_rule(Layout l) noexcept { return l == Layout::Packed ? "packed" : "split (power of two)"; }

// Violations a driver can see from the device (each one breaks the ring).
enum class DrvErr : uint8_t {
  UsedIdxJump,  // 2.7.8: used idx moved past what was made available
  UsedIdOutOfRange,
  UsedIdNotHead,   // id is not an outstanding buffer (or out of order with IN_ORDER)
  UsedLenTooLong,  // len larger than the buffer's writable part
  Count
};

// Violations a device can see from the driver.
enum class DevErr : uint8_t {
  AvailIdxJump,     // 2.7.13.3: avail idx - last seen > queue size (breaks the ring)
  HeadOutOfRange,   // avail ring entry >= queue size (breaks the ring)
  NextOutOfRange,   // next >= table size (chain dropped)
  ChainTooLong,     // more descriptors than the ring / indirect table: a loop
  NestedIndirect,   // 2.7.5.3.1: indirect inside indirect
  IndirectBadLen,   // table length zero or not a multiple of 16
  IndirectAndNext,  // INDIRECT and NEXT on one descriptor
  IndirectNotNegotiated,
  LenOverflow,         // chain total over 2^32 - 1
  BadAddress,          // not inside guest memory
  ReadAfterWrite,      // device-readable descriptor after a writable one
  TooManySegs,         // more pieces than the device's segment array holds
  PackedNotAvail,      // packed chain continues into a slot that is not available (breaks)
  PackedIdOutOfRange,  // buffer id >= queue size (breaks the ring)
  Count
};

const char* to_string(DrvErr e) noexcept;
const char* to_string(DevErr e) noexcept;

template <class E>
struct ErrCounters {
  std::array<uint64_t, static_cast<size_t>(E::Count)> n{};
  uint64_t& operator[](E e) noexcept { return n[static_cast<size_t>(e)]; }
  uint64_t operator[](E e) const noexcept { return n[static_cast<size_t>(e)]; }
  uint64_t total() const noexcept {
    uint64_t t = 0;
    for (auto v : n) t += v;
    return t;
  }
};

// Statistics counters are written by the data path on its own lcore and
// read by the control path without stopping it, as every DPDK driver does:
// a reader may see a value one burst old, never a torn one (aligned 64-bit
// words). All such reads go through this one function, each word read once
// (volatile), so that ThreadSanitizer's suppression (tests/tsan.supp) names
// exactly these racy-by-design reads and nothing else.
template <class T>
[[gnu::noinline]] T counters_snapshot(const T& live) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  T out;
  auto* d = reinterpret_cast<unsigned char*>(&out);
  const auto* s = reinterpret_cast<const volatile unsigned char*>(&live);
  if constexpr (sizeof(T) % sizeof(uint64_t) == 0 && alignof(T) >= alignof(uint64_t)) {
    const auto* s64 = reinterpret_cast<const volatile uint64_t*>(&live);
    for (size_t i = 0; i < sizeof(T) / sizeof(uint64_t); ++i) {
      const uint64_t w = s64[i];
      __builtin_memcpy(d + i * sizeof(uint64_t), &w, sizeof w);
    }
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) d[i] = s[i];
  }
  return out;
}

// Error-path logging. Default writes to stderr; the ethdev layer points it
// at rte_log. Lines are rate limited per counter (1, 2, 4, 8, ... hits).
using LogSink = void (*)(int level, const char* msg);
void set_log_sink(LogSink sink) noexcept;
void log_error(const char* side, const char* what, uint64_t count, const char* fmt, ...) noexcept
    __attribute__((format(printf, 4, 5)));

// ---- the driver-side interface ---------------------------------------------
// What SplitDriver, PackedDriver and the DriverQueue over both provide; the
// contract of each call is written in driver_queue.h. (init differs: the
// layouts take a DriverConfig, DriverQueue a Layout too.)
template <class Q>
concept DriverRing = requires(Q q, const Q cq, const Seg* segs, uint16_t n, void* token, UsedBuf* out,
                              void (*fn)(void*)) {
  { q.add(segs, n, token) } -> std::same_as<int>;  // chain (indirect when configured and n > 1)
  { q.add(segs, n, token, false) } -> std::same_as<int>;
  { q.publish() } -> std::same_as<void>;  // the device sees nothing added before this
  { q.kick_prepare() } -> std::same_as<bool>;
  { q.poll_used(out, n) } -> std::same_as<uint16_t>;
  { q.drain(fn) } -> std::same_as<void>;
  { cq.next_id() } -> std::same_as<uint16_t>;
  { cq.free_slots() } -> std::same_as<uint32_t>;
  { cq.in_flight() } -> std::same_as<uint32_t>;
  { q.disable_cb() } -> std::same_as<void>;
  { q.enable_cb() } -> std::same_as<bool>;
  { cq.broken() } -> std::same_as<bool>;
  { cq.size() } -> std::same_as<uint32_t>;
  { cq.errors() } -> std::same_as<const ErrCounters<DrvErr>&>;
};
template <class Q>
concept DriverLayout = DriverRing<Q> &&
    requires(Q q, const DriverConfig& cfg, uint32_t n, const Seg* segs, void* const* tokens, uint16_t k) {
  { q.init(cfg) } -> std::same_as<int>;
  { q.add_many(segs, tokens, k) } -> std::same_as<int>;  // k one-descriptor buffers, all or none (Rx refill)
  { Q::bytes_needed(n) } -> std::same_as<size_t>;
};

}  // namespace vnet::ring
