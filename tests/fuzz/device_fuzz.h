// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The device-side fuzz harness, one template for both layouts: the input is
// written straight into ring memory and a data area inside the arena (see
// fuzz_util.h for the format), then the device pops until Empty or Broken,
// touching every byte of every valid chain and returning every chain used.
//
// Checked beyond what ASan/UBSan see:
//  - every segment of an Ok chain lies inside the arena, sums match
//    out_len/in_len, readable pieces precede writable ones;
//  - a Dropped chain carries no segments and says why;
//  - a static ring yields at most `size` chains (and, packed, at most `size`
//    slots) before Empty or Broken: avail idx may not run further ahead;
//  - once Broken, the ring stays Broken.
#pragma once

#include "fuzz_util.h"

namespace vnet::fuzz {

inline void check_ok_chain(const ring::Chain& c, const ring::Arena& a, uint32_t n) {
  VNET_FUZZ_CHECK(c.head < n, "head %u of ring %u", c.head, n);
  VNET_FUZZ_CHECK(c.nout <= c.nseg && c.nseg <= ring::Chain::kMaxSegs, "nout %u nseg %u", c.nout, c.nseg);
  VNET_FUZZ_CHECK(c.err == ring::kNoErr, "Ok chain with an error");
  const uintptr_t lo = reinterpret_cast<uintptr_t>(a.base()), hi = lo + a.size();
  uint64_t out = 0, in = 0;
  for (uint16_t i = 0; i < c.nseg; ++i) {
    const ring::DevSeg& s = c.segs[i];
    const uintptr_t p = reinterpret_cast<uintptr_t>(s.ptr);
    VNET_FUZZ_CHECK(s.len > 0, "empty segment %u", i);
    VNET_FUZZ_CHECK(p >= lo && p < hi && s.len <= hi - p, "segment %u [%p, +%u) outside the arena [%p, +%zu)", i,
                    static_cast<void*>(s.ptr), s.len, static_cast<void*>(a.base()), a.size());
    (i < c.nout ? out : in) += s.len;
    touch(s.ptr, s.len, i >= c.nout);
  }
  VNET_FUZZ_CHECK(out == c.out_len && in == c.in_len, "lengths %llu/%llu vs chain %u/%u",
                  static_cast<unsigned long long>(out), static_cast<unsigned long long>(in), c.out_len, c.in_len);
}

inline void check_dropped_chain(const ring::Chain& c, uint32_t n) {
  VNET_FUZZ_CHECK(c.head < n, "dropped head %u of ring %u", c.head, n);
  VNET_FUZZ_CHECK(c.nseg == 0 && c.nout == 0, "dropped chain keeps %u segments", c.nseg);
  VNET_FUZZ_CHECK(c.err < ring::DevErr::Count, "dropped chain without a reason");
}

template <class Drv>
int run_device(const uint8_t* data, size_t size) {
  using L = ring::LayoutOf<Drv>;
  using Dev = typename L::Device;
  quiet_logs();

  Reader in(data, size);
  const DevHeader h = DevHeader::read(in);
  const DevGeometry<Drv> g(h.size_sel);
  const uint32_t n = g.n;

  ring::Arena arena(g.arena_bytes);
  uint8_t* ring = arena.alloc(g.ring_bytes, 4096);
  uint8_t* dbuf = arena.alloc(g.data_bytes, 64);
  VNET_FUZZ_CHECK(ring == arena.base() && dbuf == ring + g.data_off, "arena layout");
  const GuestMap map(arena, static_cast<MemMode>((h.feat >> kDevMemShift) & 3));

  in.copy(ring, g.body_bytes);
  in.copy(dbuf, g.data_bytes);
  // Ring descriptors and every 16-byte data slot: addr is the first 8 bytes
  // in both layouts.
  auto reloc_at = [&](uint8_t* p) {
    uint64_t a;
    std::memcpy(&a, p, 8);
    a = map.reloc(virtio::from_le(a), dbuf, g.data_bytes);
    a = virtio::to_le(a);
    std::memcpy(p, &a, 8);
  };
  for (uint32_t i = 0; i < n; ++i) reloc_at(ring + size_t{i} * 16);
  for (size_t off = 0; off + 16 <= g.data_bytes; off += 16) reloc_at(dbuf + off);

  ring::DeviceConfig vc;
  vc.size = n;
  vc.indirect = h.feat & kDevIndirect;
  vc.event_idx = h.feat & kDevEventIdx;
  vc.in_order = h.feat & kDevInOrder;
  L::place(vc, ring, n);
  const bool own_used = h.used & kDevUsedOwn;
  if constexpr (L::packed) {
    vc.avail_base = static_cast<uint16_t>(h.avail_base % n);
    vc.avail_wrap = !(h.feat & kDevAvailWrap0);
    vc.used_base = own_used ? static_cast<uint16_t>((h.used & 0x3fff) % n) : vc.avail_base;
    vc.used_wrap = own_used ? static_cast<bool>(h.used & kDevUsedWrap) : vc.avail_wrap;
  } else {
    vc.avail_base = h.avail_base;
    vc.used_base = own_used ? static_cast<uint16_t>(h.used & 0x3fff) : h.avail_base;
    const uint16_t delta = h.avail_idx & kDevIdxRaw ? h.avail_idx : h.avail_idx % (n + 2);
    static_cast<virtio::SplitAvailHdr*>(vc.avail)->idx.set(static_cast<uint16_t>(h.avail_base + delta));
  }
  Dev dev;
  VNET_FUZZ_CHECK(dev.init(vc, &arena.mem()) == 0, "device init");

  static ring::Chain c;     // 4 KiB: not on the stack
  static ring::Chain last;  // head/ndesc of the round's last chain (batched used entries)

  if constexpr (!L::packed) {
    if (h.feat & kDevAvailPending) (void)dev.avail_pending();
  }
  if (h.batch & kDevKicks) dev.disable_kicks();

  // A caller that popped buffers it could not use gives them back.
  if (h.feat & kDevRewind) {
    const ring::Cursor cur = dev.save();
    for (uint32_t k = 0; k < h.rewind % 8u + 1; ++k) {
      const ring::Pop r = dev.pop(c);
      if (r == ring::Pop::Empty || r == ring::Pop::Broken) break;
      if (r == ring::Pop::Ok) check_ok_chain(c, arena, n);
    }
    if (!dev.broken()) dev.restore(cur);
  }

  const uint32_t per_round = (h.batch & 63u) + 1;
  const bool batch_used = vc.in_order && (h.batch & kDevBatchUsed);
  uint32_t pops = 0, slots = 0;
  bool done = false;
  // Bounded: more than n pops fails the check below long before the cap.
  for (uint32_t round = 0; !done && round < 2 * n + 4; ++round) {
    uint32_t got = 0, round_slots = 0, last_len = 0;
    while (got < per_round) {
      const ring::Pop r = dev.pop(c);
      if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
        VNET_FUZZ_CHECK(r == ring::Pop::Empty || dev.broken(), "Broken but not marked broken");
        done = true;
        break;
      }
      VNET_FUZZ_CHECK(c.ndesc >= 1 && c.ndesc <= n, "chain of %u slots in ring %u", c.ndesc, n);
      ++pops;
      slots += c.ndesc;
      round_slots += c.ndesc;
      uint32_t len = 0;
      if (r == ring::Pop::Ok) {
        check_ok_chain(c, arena, n);
        len = c.in_len;  // as if the device filled every writable byte
      } else {
        check_dropped_chain(c, n);  // and it goes back with length 0
      }
      if (batch_used) {
        last.head = c.head;
        last.ndesc = c.ndesc;
        last_len = len;
      } else {
        dev.push_used(c, len);
      }
      ++got;
    }
    if (batch_used && got > 0)
      dev.push_used_batch(last, last_len, static_cast<uint16_t>(L::packed ? round_slots : got));
    dev.flush();
    (void)dev.should_notify();
  }
  VNET_FUZZ_CHECK(pops <= n, "%u chains popped from a static ring of %u (avail idx %u, base %u)", pops, n,
                  L::packed ? 0u : static_cast<const virtio::SplitAvailHdr*>(vc.avail)->idx.get(), vc.avail_base);
  if constexpr (L::packed) VNET_FUZZ_CHECK(slots <= n, "%u slots popped from a static ring of %u", slots, n);
  if (dev.broken()) VNET_FUZZ_CHECK(dev.pop(c) == ring::Pop::Broken, "broken ring popped again");
  if (h.batch & kDevKicks) (void)dev.enable_kicks();
  return 0;
}

}  // namespace vnet::fuzz
