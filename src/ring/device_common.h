// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// What both device-side rings share: the validated chain handed to the
// backend (local pointers only, every byte inside guest memory), the pop
// result, ring placement, and the per-descriptor append that checks order,
// length overflow and translation (with an inline form for a chain of one
// descriptor that must accept exactly what it accepts). Ring structure
// checks live in each ring.
#pragma once

#include <cstdint>

#include "ring/common.h"

namespace vnet::ring {

struct DevSeg {
  uint8_t* ptr;
  uint32_t len;
};

struct Chain {
  static constexpr uint16_t kMaxSegs = 256;
  uint16_t head;   // split: head descriptor index; packed: buffer id
  uint16_t ndesc;  // ring slots the chain occupies (packed); 1 for split
  uint16_t nout;   // device-readable pieces are segs[0, nout)
  uint16_t nseg;   // device-writable pieces are segs[nout, nseg)
  uint32_t out_len;
  uint32_t in_len;
  DevErr err;       // why the chain was dropped (Pop::Dropped)
  bool seen_write;  // a writable descriptor was appended (readable ones must precede)
  DevSeg segs[kMaxSegs];
};

enum class Pop : uint8_t {
  Ok,       // chain is valid
  Empty,    // nothing available
  Dropped,  // chain consumed but invalid: return it with push_used(chain, 0)
  Broken,   // ring unusable until reset
};

// Where the driver put the ring, already translated to local pointers.
struct DeviceConfig {
  Layout layout = Layout::Split;  // read by DeviceQueue; each layout's own type ignores it
  uint32_t size = 0;
  bool indirect = false;
  bool event_idx = false;
  bool in_order = false;
  // The device only reads this queue (a net transmitq): WRITE flags carry no
  // meaning and are ignored. DPDK's virtio marks the header entry of its
  // packed Tx indirect tables writable; a strict check would drop every chain.
  bool read_only = false;
  void* desc = nullptr;
  void* avail = nullptr;    // split: avail ring; packed: driver event suppression
  void* used = nullptr;     // split: used ring; packed: device event suppression
  uint16_t avail_base = 0;  // first avail index to process (SET_VRING_BASE)
  bool avail_wrap = true;   // packed
  uint16_t used_base = 0;
  bool used_wrap = true;  // packed
};

// A saved pop position, so a caller that popped buffers it cannot use (a
// mergeable receive that ran short) can give them back.
struct Cursor {
  uint16_t idx;
  bool wrap;
};

inline constexpr DevErr kNoErr = DevErr::Count;

// Used entries a ring stages during a burst and writes in its flush(), so
// the lines the driver reads are written once a burst rather than under it.
// An entry holds only what the push said; flush() works out where each goes
// (entries follow each other from the ring's used position).
struct UsedStage {
  static constexpr uint16_t kMax = 64;
  struct Entry {  // 8 bytes: one store
    uint16_t id;
    uint16_t step;  // how far the used position moves: split used indexes, packed slots
    uint32_t len;
  };
  uint16_t n = 0;
  Entry e[kMax];
};

inline void chain_reset(Chain& c) noexcept {
  c.nout = c.nseg = 0;
  c.out_len = c.in_len = 0;
  c.err = kNoErr;
  c.seen_write = false;
}

// Fill `c` with the one non-empty buffer at local `p` (already translated
// and checked), as chain_reset() and chain_append() would.
[[gnu::always_inline]] inline void chain_set_one(Chain& c, uint8_t* p, uint32_t len, bool write, uint16_t head,
                                                 uint16_t ndesc) noexcept {
  c.head = head;
  c.ndesc = ndesc;
  c.nout = write ? 0 : 1;
  c.nseg = 1;
  c.out_len = write ? 0 : len;
  c.in_len = write ? len : 0;
  c.err = kNoErr;
  c.seen_write = write;
  c.segs[0] = DevSeg{p, len};
}

// pop()'s common chain, inline: one descriptor whose buffer lies inside the
// region the table hit last. Fills `c` exactly as chain_reset() and then
// chain_append() would (those checks cannot fail on a fresh chain with one
// non-empty buffer). Returns false, `c` untouched, for what only the general
// path handles: a zero length (no piece), a buffer in another region or
// spanning two, an address outside guest memory.
template <class Mem>
[[gnu::always_inline]] inline bool chain_one(Chain& c, const Mem& mem, uint64_t addr, uint32_t len, bool write,
                                             uint16_t head, uint16_t ndesc) noexcept {
  uint8_t* p = mem.translate_last(addr, len);
  if (!p || len == 0) return false;
  chain_set_one(c, p, len, write, head, ndesc);
  return true;
}

// Append one descriptor's buffer to the chain, translating it piecewise.
template <class Mem>
inline DevErr chain_append(Chain& c, Mem& mem, uint64_t addr, uint32_t len, bool write) noexcept {
  if (write) {
    c.seen_write = true;
    if (uint64_t{c.out_len} + c.in_len + len > UINT32_MAX) return DevErr::LenOverflow;
    c.in_len += len;
  } else {
    if (c.seen_write) return DevErr::ReadAfterWrite;
    if (uint64_t{c.out_len} + len > UINT32_MAX) return DevErr::LenOverflow;
    c.out_len += len;
  }
  if (len == 0) return kNoErr;
  if (uint8_t* p = mem.translate(addr, len); p && c.nseg < Chain::kMaxSegs) {  // inside one region
    c.segs[c.nseg++] = DevSeg{p, len};
    if (!write) c.nout = c.nseg;
    return kNoErr;
  }
  bool full = false;
  const bool ok = mem.translate_pieces(addr, len, [&](uint8_t* p, uint32_t l) {
    if (c.nseg == Chain::kMaxSegs) {
      full = true;
      return false;
    }
    c.segs[c.nseg++] = DevSeg{p, l};
    return true;
  });
  if (!ok) return full ? DevErr::TooManySegs : DevErr::BadAddress;
  if (!write) c.nout = c.nseg;
  return kNoErr;
}

}  // namespace vnet::ring
