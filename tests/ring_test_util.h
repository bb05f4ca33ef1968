// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Test helpers shared by the ring suites: per-layout traits (sizes to run),
// a buffer pool inside the pair's arena, and device-side helpers that
// consume and complete chains.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "support/ring_pair.h"

namespace vnet::ring::test {

template <class Drv>
struct Sizes;
template <>
struct Sizes<SplitDriver> {
  static std::vector<uint32_t> all() { return {1, 2, 4, 256, 32768}; }
};
template <>
struct Sizes<PackedDriver> {
  static std::vector<uint32_t> all() { return {1, 2, 3, 255, 256, 1000, 32768}; }
};

// Fixed-size buffers carved from the arena (so they are guest memory).
struct Pool {
  uint8_t* base = nullptr;
  uint32_t slot_bytes = 0;
  uint32_t slots = 0;
  void init(Arena& a, uint32_t n, uint32_t bytes) {
    slot_bytes = bytes;
    slots = n;
    base = a.alloc(size_t{n} * bytes, 64);
    ASSERT_NE(base, nullptr);
  }
  uint8_t* at(uint32_t i) const { return base + size_t{i} * slot_bytes; }
  uint64_t iova(uint32_t i) const { return Arena::iova(at(i)); }
  // Which slot a device-side pointer falls in (-1: not in the pool).
  int32_t slot_of(const uint8_t* p) const {
    if (p < base || p >= base + size_t{slots} * slot_bytes) return -1;
    return static_cast<int32_t>((p - base) / slot_bytes);
  }
};

using Layouts = ::testing::Types<SplitDriver, PackedDriver>;

inline void* tok(uintptr_t v) { return reinterpret_cast<void*>(v + 1); }  // never null
inline uintptr_t untok(void* t) { return reinterpret_cast<uintptr_t>(t) - 1; }

// Device: pop up to max chains, complete each (in order) with `len_of(chain)`.
template <class Dev, class F>
uint32_t complete_all(Dev& dev, uint32_t max, F&& len_of) {
  Chain c;
  uint32_t n = 0;
  while (n < max) {
    const Pop r = dev.pop(c);
    if (r == Pop::Empty || r == Pop::Broken) break;
    dev.push_used(c, r == Pop::Ok ? len_of(c) : 0);
    ++n;
  }
  dev.flush();
  return n;
}

}  // namespace vnet::ring::test
