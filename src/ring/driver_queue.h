// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The driver-side virtqueue: one type, a split or a packed ring inside (a
// tagged union and a layout flag, as Linux's vring_virtqueue and DPDK's
// virtqueue). Every split/packed choice of the driver side is made in this
// file; callers never ask which layout they hold. The bursts are templates
// over the concrete ring, picked once per start (with_layout), and reach it
// through as<R>(): no dispatch per packet.
// Memory: the queue never allocates. init() places the ring in caller memory
// (DriverConfig::ring, zeroed here) and its private shadows in caller memory
// too (DriverConfig::shadow, bytes_needed(size) bytes for either layout); the
// caller frees both after the queue is no longer used.
// Errors: control calls return 0 or -errno; a device that breaks a rule
// breaks the ring (counted in errors(), one rate-limited log line), never
// the process. Nothing here throws: every call is noexcept.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "ring/common.h"
#include "ring/packed_driver.h"
#include "ring/split_driver.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

// The layout of a concrete ring type.
template <class R>
inline constexpr Layout kLayoutOf = std::is_same_v<R, SplitDriver> ? Layout::Split : Layout::Packed;

// Where the parts of a ring of n entries sit from its base (2.7.1 / 2.8.10).
struct RingParts {
  size_t desc;    // descriptor table
  size_t driver;  // split: avail ring; packed: driver event suppression
  size_t device;  // split: used ring; packed: device event suppression
  size_t total;   // bytes the ring takes
};

class DriverQueue {
 public:
  DriverQueue() noexcept { std::construct_at(&u_.split); }

  // ---- what a layout allows, before any queue exists ----------------------
  // used_align: the split used ring's alignment (4; 4096 for legacy devices).
  static RingParts parts(Layout l, uint32_t n, size_t used_align) noexcept {
    if (l == Layout::Packed) {
      const auto p = virtio::PackedLayout::make(n);
      return {p.desc_off, p.driver_event_off, p.device_event_off, p.total};
    }
    const auto s = virtio::SplitLayout::make(n, used_align);
    return {s.desc_off, s.avail_off, s.used_off, s.total};
  }
  // Ring bytes that fit either layout (memory reserved before the layout is known).
  static size_t ring_bytes_any(uint32_t n, size_t used_align) noexcept {
    return std::max(parts(Layout::Split, n, used_align).total, parts(Layout::Packed, n, used_align).total);
  }
  // Shadow bytes (DriverConfig::shadow) a queue of n entries needs, whichever
  // layout it is initialised with later.
  static constexpr size_t bytes_needed(uint32_t n) noexcept {
    return std::max(SplitDriver::bytes_needed(n), PackedDriver::bytes_needed(n));
  }
  // Calls f.template operator()<R>() with R the concrete ring of layout l:
  // how a caller picks a template instantiation once (the bursts).
  template <class F>
  static decltype(auto) with_layout(Layout l, F&& f) {
    if (l == Layout::Packed) return f.template operator()<PackedDriver>();
    return f.template operator()<SplitDriver>();
  }

  // ---- control path ---------------------------------------------------------
  // (Re)initialise as layout l over cfg.ring (zeroed here) and cfg.shadow.
  // 0, or -EINVAL (size not allowed for the layout, ring or shadow memory
  // missing, too small or misaligned, bad indirect pool or used_align). Then:
  // in_flight() == 0, free_slots() == size(), notifications disabled,
  // errors() zero, not broken. On failure the queue holds nothing.
  int init(Layout l, const DriverConfig& cfg) noexcept {
    if (l != layout_) {  // both layouts are trivially destructible: reuse the storage
      if (l == Layout::Packed)
        std::construct_at(&u_.packed);
      else
        std::construct_at(&u_.split);
      layout_ = l;
    }
    return l == Layout::Packed ? u_.packed.init(cfg) : u_.split.init(cfg);
  }
  Layout layout() const noexcept { return layout_; }

  // drain(f): teardown, once the device no longer uses the ring (reset,
  // queue stopped, backend gone). Calls f(token) exactly once for every
  // buffer still outstanding -- added, published or not, and not returned by
  // poll_used() -- in ascending buffer id order, and releases its
  // descriptors: then in_flight() == 0 and free_slots() == size(). Buffers
  // added but not published are withdrawn (the device never sees them). The
  // queue is then stopped until init(): add() returns -EIO, poll_used() 0,
  // kick_prepare() false. The shared ring is not written; broken() and
  // errors() keep their values. A second drain() hands back nothing.
  template <class F>
  void drain(F&& f) noexcept {
    if (layout_ == Layout::Packed)
      u_.packed.drain(f);
    else
      u_.split.drain(f);
  }

  // ---- the ring operations (the bursts call them on as<R>()) --------------
  // One buffer of n segments, device-readable ones first; with an indirect
  // pool and n > 1, one indirect descriptor unless use_indirect is false.
  // 0; -ENOSPC (ring full, nothing changed); -EINVAL (n == 0 or > size(), a
  // readable segment after a writable one, more than 4 GiB writable); -EIO
  // (stopped: broken or drained). The device sees it after publish().
  int add(const Seg* segs, uint16_t n, void* token, bool use_indirect = true) noexcept {
    return layout_ == Layout::Packed ? u_.packed.add(segs, n, token, use_indirect)
                                     : u_.split.add(segs, n, token, use_indirect);
  }
  // Everything added since the last publish() becomes available at once.
  void publish() noexcept {
    if (layout_ == Layout::Packed)
      u_.packed.publish();
    else
      u_.split.publish();
  }
  // After publish(): true when the device asked to be notified of what was
  // published since the last call (event index or suppression flags); the
  // caller then notifies. The first of Linux's two kick phases.
  bool kick_prepare() noexcept {
    return layout_ == Layout::Packed ? u_.packed.kick_prepare() : u_.split.kick_prepare();
  }
  // Up to max completed buffers, in the order the device returned them: the
  // token and the bytes the device wrote (0 for a buffer with nothing
  // writable). A device violation breaks the ring: what came before it is
  // returned, then 0 until init().
  uint16_t poll_used(UsedBuf* out, uint16_t max) noexcept {
    return layout_ == Layout::Packed ? u_.packed.poll_used(out, max) : u_.split.poll_used(out, max);
  }
  // The buffer id (0 .. size()-1) the next add() takes, valid while
  // free_slots() > 0: a key for per-buffer side storage (Tx header slots).
  uint16_t next_id() const noexcept { return layout_ == Layout::Packed ? u_.packed.next_id() : u_.split.next_id(); }
  // Free descriptors (split) or ring slots (packed): a chain of n segments
  // fits without indirect tables when n <= free_slots().
  uint32_t free_slots() const noexcept {
    return layout_ == Layout::Packed ? u_.packed.free_slots() : u_.split.free_slots();
  }
  // Buffers added and not yet returned (nor drained).
  uint32_t in_flight() const noexcept {
    return layout_ == Layout::Packed ? u_.packed.in_flight() : u_.split.in_flight();
  }
  // Ask the device not to interrupt (a poll-mode driver's default) / to
  // interrupt again; enable_cb() is true when used buffers already wait.
  void disable_cb() noexcept {
    if (layout_ == Layout::Packed)
      u_.packed.disable_cb();
    else
      u_.split.disable_cb();
  }
  bool enable_cb() noexcept { return layout_ == Layout::Packed ? u_.packed.enable_cb() : u_.split.enable_cb(); }
  // The device broke a rule since init() (which one: errors()).
  bool broken() const noexcept { return layout_ == Layout::Packed ? u_.packed.broken() : u_.split.broken(); }
  uint32_t size() const noexcept { return layout_ == Layout::Packed ? u_.packed.size() : u_.split.size(); }
  // Violations counted since init(), by kind.
  const ErrCounters<DrvErr>& errors() const noexcept {
    return layout_ == Layout::Packed ? u_.packed.errors() : u_.split.errors();
  }

  // The concrete ring; R must be the layout init() was given.
  template <class R>
  R& as() noexcept {
    static_assert(std::is_same_v<R, SplitDriver> || std::is_same_v<R, PackedDriver>);
    assert(layout_ == kLayoutOf<R>);
    if constexpr (std::is_same_v<R, PackedDriver>)
      return u_.packed;
    else
      return u_.split;
  }
  template <class R>
  const R& as() const noexcept {
    return const_cast<DriverQueue*>(this)->as<R>();  // the same checks; nothing written
  }

 private:
  static_assert(std::is_trivially_destructible_v<SplitDriver> && std::is_trivially_destructible_v<PackedDriver>);
  union Rings {
    Rings() noexcept {}  // DriverQueue's constructor starts the split member's lifetime
    SplitDriver split;
    PackedDriver packed;
  } u_;
  Layout layout_ = Layout::Split;
};

static_assert(DriverRing<DriverQueue>);
static_assert(std::is_nothrow_default_constructible_v<DriverQueue> && std::is_trivially_destructible_v<DriverQueue>);

}  // namespace vnet::ring
