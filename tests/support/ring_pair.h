// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// A driver-side and a device-side queue wired together in one process over
// an identity-mapped arena (guest address == local address, as with
// virtio-user). Used by the unit tests, the fuzzers and the ring benchmark;
// the arena is the whole "guest memory" the device may touch.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ring/memory.h"
#include "ring/packed_device.h"
#include "ring/packed_driver.h"
#include "ring/split_device.h"
#include "ring/split_driver.h"

namespace vnet::ring {

class Arena {
 public:
  explicit Arena(size_t bytes) : size_(bytes) {
    base_ = static_cast<uint8_t*>(std::aligned_alloc(4096, (bytes + 4095) & ~size_t{4095}));
    std::memset(base_, 0, bytes);
    mem_.add(Region{reinterpret_cast<uint64_t>(base_), bytes, base_});
  }
  ~Arena() { std::free(base_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  uint8_t* alloc(size_t bytes, size_t align = 64) {
    size_t off = (used_ + align - 1) & ~(align - 1);
    if (off + bytes > size_) return nullptr;
    used_ = off + bytes;
    return base_ + off;
  }
  static uint64_t iova(const void* p) { return reinterpret_cast<uint64_t>(p); }
  RegionTable& mem() { return mem_; }
  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }

 private:
  uint8_t* base_;
  size_t size_;
  size_t used_ = 0;
  RegionTable mem_;
};

// Plain heap memory for a driver ring's shadows (DriverConfig::shadow), what
// the tests, fuzzers and benchmarks give init(); the PMD takes it from
// rte_zmalloc_socket instead.
class HeapShadow {
 public:
  HeapShadow() = default;
  explicit HeapShadow(size_t bytes) { reset(bytes); }
  void reset(size_t bytes) {
    words_.assign((bytes + sizeof(uint64_t) - 1) / sizeof(uint64_t) + 1, 0);  // one word more: never empty
    bytes_ = bytes;
  }
  ShadowMem mem() { return ShadowMem{words_.data(), bytes_}; }

 private:
  static_assert(alignof(uint64_t) >= kShadowAlign);
  std::vector<uint64_t> words_;
  size_t bytes_ = 0;
};

struct Features {
  bool indirect = false;
  bool event_idx = false;
  bool in_order = false;
};

template <class Drv>
struct LayoutOf;
template <>
struct LayoutOf<SplitDriver> {
  using Device = SplitDevice<RegionTable>;
  static constexpr bool packed = false;
  static constexpr Layout layout = Layout::Split;
  static size_t bytes(uint32_t n) { return virtio::SplitLayout::make(n).total; }
  static void place(DeviceConfig& c, uint8_t* ring, uint32_t n) {
    const auto l = virtio::SplitLayout::make(n);
    c.desc = ring + l.desc_off;
    c.avail = ring + l.avail_off;
    c.used = ring + l.used_off;
  }
};
template <>
struct LayoutOf<PackedDriver> {
  using Device = PackedDevice<RegionTable>;
  static constexpr bool packed = true;
  static constexpr Layout layout = Layout::Packed;
  static size_t bytes(uint32_t n) { return virtio::PackedLayout::make(n).total; }
  static void place(DeviceConfig& c, uint8_t* ring, uint32_t n) {
    const auto l = virtio::PackedLayout::make(n);
    c.desc = ring + l.desc_off;
    c.avail = ring + l.driver_event_off;
    c.used = ring + l.device_event_off;
  }
};

// One queue, both ends. `arena_bytes` must hold the ring, the indirect
// tables and whatever buffers the caller allocates from the arena.
template <class Drv>
struct QueuePair {
  using L = LayoutOf<Drv>;
  using Device = typename L::Device;

  std::unique_ptr<Arena> arena;
  HeapShadow shadow;
  Drv drv;
  Device dev;
  uint8_t* ring = nullptr;
  uint32_t size = 0;

  int init(uint32_t n, Features f, size_t arena_bytes = 0, uint16_t indirect_per_head = 16) {
    size = n;
    const size_t ind_bytes = f.indirect ? size_t{n} * indirect_per_head * 16 : 0;
    if (arena_bytes == 0) arena_bytes = L::bytes(n) + ind_bytes + (1u << 20);
    arena = std::make_unique<Arena>(arena_bytes + L::bytes(n) + ind_bytes + 8192);
    ring = arena->alloc(L::bytes(n), 4096);
    DriverConfig dc;
    dc.size = n;
    dc.indirect = f.indirect;
    dc.event_idx = f.event_idx;
    dc.in_order = f.in_order;
    dc.ring = RingMem{ring, Arena::iova(ring)};
    shadow.reset(Drv::bytes_needed(n));
    dc.shadow = shadow.mem();
    if (f.indirect) {
      uint8_t* ind = arena->alloc(ind_bytes, 16);
      dc.indirect_pool = IndirectPool{ind, Arena::iova(ind), indirect_per_head};
    }
    if (int rc = drv.init(dc); rc != 0) return rc;
    DeviceConfig vc;
    vc.size = n;
    vc.indirect = f.indirect;
    vc.event_idx = f.event_idx;
    vc.in_order = f.in_order;
    L::place(vc, ring, n);
    return dev.init(vc, &arena->mem());
  }
};

}  // namespace vnet::ring
