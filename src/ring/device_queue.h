// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The device-side virtqueue: one type, split or packed inside (a union and a
// layout flag, as Linux's vring_virtqueue and DPDK's virtqueue hold them),
// and the only place on the device side that chooses between the layouts.
// DeviceRing is the contract both layouts and this type keep. Code templated
// over the layout (the backend's bursts) is picked once, when a queue is
// armed, through with_ring_type(), and reaches its ring with as<>().
#pragma once

#include <concepts>
#include <cstdint>
#include <new>
#include <type_traits>

#include "ring/device_common.h"
#include "ring/memory.h"
#include "ring/packed_device.h"
#include "ring/split_device.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

// ---- the contract ---------------------------------------------------------
//  init(cfg, mem)      place the ring over the driver's memory, already
//                      translated to local pointers; start at cfg's positions
//                      with error counters at zero. -EINVAL: a bad size or pointer.
//  pop(c)              the next available chain, every descriptor validated
//                      and translated through `mem`: Ok; Empty; Dropped
//                      (invalid but consumed: give it back with length 0);
//                      Broken (counted and logged; unusable until init).
//  save(), restore(p)  un-pop every chain popped since save() (none of them
//                      pushed used): a caller that ran short gives them back.
//  push_used(head, ndesc, len)
//                      stage the used entry of a chain pop() returned: its
//                      head and ndesc are all a caller keeps, so a completion
//                      sink may push it long after the Chain was reused.
//                      Entries reach the driver in push order.
//  flush()             write the staged entries and publish them.
//  should_notify()     after flush(): does the driver want an interrupt?
//  drain()             the end of a batch: flush(), then should_notify().
//                      Afterwards nothing the device did lives only in this
//                      object: last_avail()/used_idx() are what the driver sees.
//  disable_kicks(), enable_kicks()
//                      ask the driver not to notify us (we poll) / to notify
//                      again (true: chains are already pending).
//  last_avail(), used_idx()
//                      the next avail / used position (packed: the slot with
//                      its wrap counter in bit 15): what GET_VRING_BASE reports.
//  broken(), size() (0: not initialised), errors()
template <class Q, class Mem>
concept DeviceRing = requires(Q q, const Q cq, const DeviceConfig& cfg, Mem* mem, Chain& c, Cursor at, uint16_t id,
                              uint32_t len) {
  { q.init(cfg, mem) } -> std::same_as<int>;
  { q.pop(c) } -> std::same_as<Pop>;
  { cq.save() } -> std::same_as<Cursor>;
  { q.restore(at) } -> std::same_as<void>;
  { q.push_used(id, id, len) } -> std::same_as<void>;
  { q.flush() } -> std::same_as<void>;
  { q.should_notify() } -> std::same_as<bool>;
  { q.drain() } -> std::same_as<bool>;
  { q.disable_kicks() } -> std::same_as<void>;
  { q.enable_kicks() } -> std::same_as<bool>;
  { cq.last_avail() } -> std::same_as<uint16_t>;
  { cq.used_idx() } -> std::same_as<uint16_t>;
  { cq.broken() } -> std::same_as<bool>;
  { cq.size() } -> std::same_as<uint32_t>;
  { cq.errors() } -> std::same_as<const ErrCounters<DevErr>&>;
};

static_assert(DeviceRing<SplitDevice<RegionTable>, RegionTable>);
static_assert(DeviceRing<PackedDevice<RegionTable>, RegionTable>);

// ---- layout facts the control path needs ------------------------------------

// The three areas of a ring of `n` entries in the driver's memory (2.7.x /
// 2.8.x): descriptors; driver area (split: avail ring; packed: driver event
// suppression); device area (split: used ring; packed: device event
// suppression). Bytes and the alignment each must have.
struct Area {
  uint64_t bytes;
  unsigned align;
};
struct RingAreas {
  Area desc, driver, device;
};
inline RingAreas ring_areas(Layout l, uint32_t n) noexcept {
  if (l == Layout::Packed)
    return {{sizeof(virtio::PackedDesc) * uint64_t{n}, virtio::DESC_ALIGN},
            {sizeof(virtio::PackedEvent), 4},
            {sizeof(virtio::PackedEvent), 4}};
  using S = virtio::SplitLayout;
  return {{S::desc_bytes(n), virtio::DESC_ALIGN}, {S::avail_bytes(n), 2}, {S::used_bytes(n), 4}};
}

// Where a queue continues from: the next avail and used positions in the
// form last_avail()/used_idx() give them (packed: wrap counter in bit 15).
struct Position {
  uint16_t avail = 0;
  uint16_t used = 0;
};

// Start cfg (its layout set) at `p`.
inline void start_at(DeviceConfig& cfg, Position p) noexcept {
  if (cfg.layout == Layout::Packed) {
    cfg.avail_base = static_cast<uint16_t>(p.avail & virtio::PACKED_POS_MASK);
    cfg.avail_wrap = p.avail & virtio::PACKED_WRAP_BIT;
    cfg.used_base = static_cast<uint16_t>(p.used & virtio::PACKED_POS_MASK);
    cfg.used_wrap = p.used & virtio::PACKED_WRAP_BIT;
  } else {
    cfg.avail_base = p.avail;
    cfg.used_base = p.used;
  }
}

// vhost-user's ring state word (SET_VRING_BASE / GET_VRING_BASE). Split: the
// next avail index, 16 bits. Packed: bits 0-14 the next avail slot, bit 15
// its wrap counter; bits 16-31 the same for used (QEMU sends them; DPDK sends
// 16 bits, meaning used = avail). `num`: the ring size, 0 when not known yet.
inline bool base_word_ok(Layout l, uint32_t w, uint32_t num) noexcept {
  if (l == Layout::Split) return w <= 0xffff;
  return num == 0 || ((w & virtio::PACKED_POS_MASK) < num && ((w >> 16) & virtio::PACKED_POS_MASK) < num);
}
// The word of a ring that has not moved yet, as a frontend sends it before
// starting one: split index 0; packed slot 0 with its wrap counter (1).
inline uint32_t start_base_word(Layout l) noexcept { return l == Layout::Packed ? virtio::PACKED_WRAP_BIT : 0u; }
// The position a word names; a split ring's used index is the one in the
// ring itself (`used_area`), where the driver last saw it.
inline Position position_of(Layout l, uint32_t w, const void* used_area) noexcept {
  if (l == Layout::Packed) {
    const auto avail = static_cast<uint16_t>(w & 0xffff);
    return {avail, (w >> 16) ? static_cast<uint16_t>(w >> 16) : avail};
  }
  return {static_cast<uint16_t>(w), virtio::snapshot<virtio::SplitUsedHdr>(used_area).idx.get()};
}

// ---- the queue ----------------------------------------------------------------

template <class Mem>
class DeviceQueue {
 public:
  using Split = SplitDevice<Mem>;
  using Packed = PackedDevice<Mem>;

  DeviceQueue() noexcept : split_() {}

  // Control path: cfg.layout chooses the layout.
  int init(const DeviceConfig& cfg, Mem* mem) {
    reset(cfg.layout);
    return cfg.layout == Layout::Packed ? packed_.init(cfg, mem) : split_.init(cfg, mem);
  }
  // Not initialised (size 0), error counters at zero.
  void reset(Layout l = Layout::Split) noexcept {
    layout_ = l;
    if (l == Layout::Packed)
      ::new (&packed_) Packed();
    else
      ::new (&split_) Split();
  }
  Layout layout() const noexcept { return layout_; }

  // The ring as its layout type, for code instantiated per layout (see
  // with_ring_type()); valid only for the layout the queue holds.
  template <class Ring>
  Ring& as() noexcept {
    static_assert(std::is_same_v<Ring, Split> || std::is_same_v<Ring, Packed>);
    if constexpr (std::is_same_v<Ring, Packed>)
      return packed_;
    else
      return split_;
  }

  Pop pop(Chain& c) {
    return visit([&](auto& r) { return r.pop(c); });
  }
  Cursor save() const {
    return visit([](const auto& r) { return r.save(); });
  }
  void restore(Cursor at) {
    visit([&](auto& r) { r.restore(at); });
  }
  void push_used(uint16_t head, uint16_t ndesc, uint32_t len) {
    visit([&](auto& r) { r.push_used(head, ndesc, len); });
  }
  void push_used(const Chain& c, uint32_t len) { push_used(c.head, c.ndesc, len); }
  void flush() {
    visit([](auto& r) { r.flush(); });
  }
  bool should_notify() {
    return visit([](auto& r) { return r.should_notify(); });
  }
  bool drain() {
    return visit([](auto& r) { return r.drain(); });
  }
  void disable_kicks() {
    visit([](auto& r) { r.disable_kicks(); });
  }
  bool enable_kicks() {
    return visit([](auto& r) { return r.enable_kicks(); });
  }
  uint16_t last_avail() const {
    return visit([](const auto& r) { return r.last_avail(); });
  }
  uint16_t used_idx() const {
    return visit([](const auto& r) { return r.used_idx(); });
  }
  Position position() const { return {last_avail(), used_idx()}; }
  // The word GET_VRING_BASE reports (see base_word_ok()).
  uint32_t base_word() const {
    return layout_ == Layout::Packed ? last_avail() | uint32_t{used_idx()} << 16 : last_avail();
  }
  bool broken() const {
    return visit([](const auto& r) { return r.broken(); });
  }
  uint32_t size() const {
    return visit([](const auto& r) { return r.size(); });
  }
  const ErrCounters<DevErr>& errors() const {
    return visit([](const auto& r) -> const ErrCounters<DevErr>& { return r.errors(); });
  }

 private:
  template <class F>
  decltype(auto) visit(F&& f) {
    if (layout_ == Layout::Packed) return f(packed_);
    return f(split_);
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (layout_ == Layout::Packed) return f(packed_);
    return f(split_);
  }

  Layout layout_ = Layout::Split;
  union {
    Split split_;
    Packed packed_;
  };
};

// Calls f.template operator()<Ring>() with the ring type of layout l: how
// code templated over the layout is picked for a queue, once, at arm time.
template <class Mem, class F>
decltype(auto) with_ring_type(Layout l, F&& f) {
  if (l == Layout::Packed) return f.template operator()<PackedDevice<Mem>>();
  return f.template operator()<SplitDevice<Mem>>();
}

static_assert(DeviceRing<DeviceQueue<RegionTable>, RegionTable>);

}  // namespace vnet::ring
