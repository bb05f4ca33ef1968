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
constexpr T to_le(T v) noexcept { return from_le(v); }

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
// The compiler barrier makes the copy the only read: without it the
// compiler may drop the copy and load a field from shared memory again
// where it is used (two loads, two values, one check bypassed).
template <class T>
inline T snapshot(const void* p) noexcept {
  T t;
  std::memcpy(&t, p, sizeof(T));
  asm volatile("" : : "r"(&t) : "memory");  // compiler barrier: the copy above is final
  return t;
}

}  // namespace vnet::virtio
