// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Little-endian wire scalars for virtio structures (virtio 1.x is little-endian
// everywhere). Wire types hold raw storage only: no bitfields, no atomics; the
// rings access shared fields through std::atomic_ref on the raw member.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace vnet::virtio {

template <class T>
constexpr T from_le(T v) noexcept {
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(v));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(v));
  } else {
    return static_cast<T>(__builtin_bswap64(v));
  }
}
template <class T>
constexpr T to_le(T v) noexcept {
  return from_le(v);
}

// A little-endian field. `raw` is the on-wire representation.
template <class T>
struct Le {
  T raw;
  constexpr T get() const noexcept { return from_le(raw); }
  constexpr void set(T v) noexcept { raw = to_le(v); }
};
using le16 = Le<uint16_t>;
using le32 = Le<uint32_t>;
using le64 = Le<uint64_t>;
static_assert(sizeof(le16) == 2 && alignof(le16) == 2);
static_assert(sizeof(le32) == 4 && alignof(le32) == 4);
static_assert(sizeof(le64) == 8 && alignof(le64) == 8);

// Copy a wire struct out of memory a peer may be writing concurrently: one
// snapshot, then validate the copy (never re-read the shared original).
// The barriers make the copy the only read: without them the compiler may
// drop the copy and load a field from shared memory again where it is used
// (two loads, two values, one check bypassed). They name only the copy, so
// nothing else the caller holds in registers has to be reloaded. Where the
// copy lives is the caller's choice, by what is cheaper at its use:
// InRegisters (up to four 64-bit words, used whole) or on the stack (a
// struct read field by field).
template <class T, bool InRegisters = true>
inline T snapshot(const void* p) noexcept {
  T t;
  if constexpr (InRegisters && sizeof(T) % sizeof(uint64_t) == 0 && sizeof(T) <= 4 * sizeof(uint64_t)) {
    uint64_t w[sizeof(T) / sizeof(uint64_t)];
    std::memcpy(w, p, sizeof(T));
    for (auto& x : w) asm volatile("" : "+r"(x));  // compiler barrier: x is a value now, not a view of *p
    std::memcpy(&t, w, sizeof(T));
  } else {
    std::memcpy(&t, p, sizeof(T));
    asm volatile("" : "+m"(t));  // compiler barrier: t is a value now, not a view of *p
  }
  return t;
}

}  // namespace vnet::virtio
