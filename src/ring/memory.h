// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// A table of guest memory regions (guest address -> local pointer) with
// bounds-checked translation. A buffer may span adjacent regions: it is
// emitted in pieces. A miss is a false return, never a crash. Lookups
// update a last-hit cache: one table per thread (each ring keeps its own).
// Invariant: the slot the cache names is a region or has size 0 (no region
// yet), so a look at it alone never reads a stale region.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace vnet::ring {

struct Region {
  uint64_t guest = 0;  // guest address of the first byte (GPA or frontend VA)
  uint64_t size = 0;
  uint8_t* local = nullptr;
};

class RegionTable {
 public:
  // vhost-user SET_MEM_TABLE carries 8 regions; ADD_MEM_REG allows more. 128
  // covers a frontend on 2 MiB hugepages without --single-file-segments (one
  // region per page) with 256 MiB of EAL memory.
  static constexpr size_t kMax = 128;

  // Control path. Rejects empty, wrapping or overlapping regions.
  int add(const Region& r) noexcept;
  int remove(uint64_t guest, uint64_t size) noexcept;
  void clear() noexcept {
    n_ = 0;
    last_ = 0;
    r_[0] = Region{};  // the cache's slot: size 0, never a hit
  }
  size_t count() const noexcept { return n_; }
  const Region& operator[](size_t i) const noexcept { return r_[i]; }

  // translate() for a range inside the region hit last, the common case
  // (buffers come from one region); nullptr for any other range, even one
  // that translate() would find. Cheap enough to inline on every pop.
  uint8_t* translate_last(uint64_t addr, uint64_t len) const noexcept {
    const Region& r = r_[last_];
    const uint64_t off = addr - r.guest;  // unsigned: addr < guest wraps past size
    if (off < r.size && len <= r.size - off) return r.local + off;
    return nullptr;
  }

  // Contiguous translation: the whole [addr, addr+len) inside one region.
  uint8_t* translate(uint64_t addr, uint64_t len) noexcept {
    if (const Region* r = find(addr)) {
      uint64_t off = addr - r->guest;
      if (len <= r->size - off) return r->local + off;
    }
    return nullptr;
  }

  // Piecewise translation: calls emit(ptr, piece_len) for each contiguous
  // piece; false when any byte is unmapped (emit may have been called).
  template <class F>
  bool translate_pieces(uint64_t addr, uint64_t len, F&& emit) {
    while (len > 0) {
      const Region* r = find(addr);
      if (!r) return false;
      uint64_t off = addr - r->guest;
      uint64_t piece = r->size - off < len ? r->size - off : len;
      if (!emit(r->local + off, static_cast<uint32_t>(piece))) return false;
      addr += piece;
      len -= piece;
    }
    return true;
  }

 private:
  const Region* find(uint64_t addr) noexcept {
    const Region* r = &r_[last_];             // size 0 when the table is empty
    if (addr - r->guest < r->size) return r;  // unsigned: also rejects addr < guest
    for (size_t i = 0; i < n_; ++i) {
      if (addr - r_[i].guest < r_[i].size) {
        last_ = i;
        return &r_[i];
      }
    }
    return nullptr;
  }

  std::array<Region, kMax> r_{};
  size_t n_ = 0;
  size_t last_ = 0;
};

}  // namespace vnet::ring
