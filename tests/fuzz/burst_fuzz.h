// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Input format and guest-memory geometry of fuzz_vhost_bursts, shared by the
// harness and fuzz_seeds: a header choosing layout, features and copy
// engines, then operations that write the guest's rings and run bursts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

namespace vnet::fuzz::burst_in {

// Header (7 bytes).
inline constexpr uint8_t kPacked = 1u << 0;
inline constexpr uint8_t kMrg = 1u << 1;    // MRG_RXBUF: 12-byte header, put_mrg
inline constexpr uint8_t kHdr12 = 1u << 2;  // without kMrg: VERSION_1's 12-byte header, else legacy 10
inline constexpr uint8_t kIndirect = 1u << 3;
inline constexpr uint8_t kEventIdx = 1u << 4;
inline constexpr uint8_t kInOrder = 1u << 5;
inline constexpr uint8_t kMemShift = 6;  // bits 6-7: MemMode (fuzz_util.h)

inline constexpr uint8_t kRxDma = 1u << 0;      // (engine) the Rx ring copies through the fake dmadev
inline constexpr uint8_t kTxDma = 1u << 1;      // (engine) the Tx ring too (both on one channel)
inline constexpr unsigned kThresholdShift = 2;  // bits 2-3: DMA threshold 0 / 64 / 256 / 1024 bytes
inline constexpr unsigned kCapacityShift = 4;   // bits 4-7: ops the dmadev holds: 0 -> 256, else 2 << (v % 8)

struct Header {
  uint8_t feat = 0;
  uint8_t size_sel = 0;  // split: n = 1 << (v % 9); packed: n = v + 1
  uint8_t engine = 0;
  uint16_t rx_base = 0;  // split: avail/used index; packed: slot (v & 0x7fff) % n, wrap counter bit 15
  uint16_t tx_base = 0;
  static constexpr size_t kBytes = 7;

  static Header read(Reader& r) {
    Header h;
    h.feat = r.u8();
    h.size_sel = r.u8();
    h.engine = r.u8();
    h.rx_base = r.u16();
    h.tx_base = r.u16();
    return h;
  }
  void write(Writer& w) const { w.u8(feat), w.u8(size_sel), w.u8(engine), w.u16(rx_base), w.u16(tx_base); }
};

inline constexpr uint32_t threshold(uint8_t engine) {
  constexpr uint32_t t[4] = {0, 64, 256, 1024};
  return t[(engine >> kThresholdShift) & 3];
}
inline constexpr uint32_t capacity(uint8_t engine) {
  const unsigned v = engine >> kCapacityShift;
  return v == 0 ? 256 : 2u << (v % 8);
}

// Operations, one opcode byte (mod kOpCount) and its operands each. Ring
// selector bytes: bit 0 set = the Tx ring (dequeue), else the Rx ring.
enum Op : uint8_t {
  kWrite,    // u16 off, u8 len, len bytes: raw bytes anywhere in guest memory (off % its size)
  kDesc,     // u8 ring, u8 slot, u64 addr (GuestMap::reloc), u32 len, u16 flags, u16 next/id: a raw descriptor
  kChain,    // u8 ring, u8 spec, per segment u16 data offset, u16 len: a chain the way a driver adds it
  kEnqueue,  // u8 count, u16 len, u8 shape: frames into the Rx ring (enqueue_burst)
  kDequeue,  // u8 count, u8 keep: dequeue_burst from the Tx ring
  kFree,     // free the frames kept from dequeue bursts
  kDma,      // u8 policy: how the fake dmadev completes (below)
  kDrive,    // drive_channel(): publish every ring's completed records
  kReset,    // u8 ring, u16 base: settle, discard, re-arm at base (a ring reset)
  kOpCount
};

// kChain spec: bits 0-1 segments - 1; bits 2-3 how many of them are writable
// (the last ones); bit 4 through an indirect table; bit 5 not published
// (split: avail idx stays; packed: the head stays unavailable); bit 6 the
// writable ones first (an invalid order).
inline constexpr uint8_t kChainIndirect = 1u << 4;
inline constexpr uint8_t kChainNoPublish = 1u << 5;
inline constexpr uint8_t kChainBadOrder = 1u << 6;

// kEnqueue: frames of len % (kMaxLen + 1) bytes (jumbo; the 64-buffer limit of
// a mergeable frame is reached with small buffers). Shape: bits 0-1 mbuf
// segment size (2048 / 512 / 100 / 1500); bit 2 lengths grow by 61 bytes a
// frame; bit 3 the first frame is as long as a valid frame may be
// (kMaxFrame), bit 4 with it one byte longer.
inline constexpr uint16_t seg_bytes(uint8_t shape) {
  constexpr uint16_t s[4] = {2048, 512, 100, 1500};
  return s[shape & 3];
}
inline constexpr uint32_t kMaxLen = 9100;
inline constexpr uint8_t kShapeGrow = 1u << 2;
inline constexpr uint8_t kShapeHuge = 1u << 3;
inline constexpr uint8_t kShapeOver = 1u << 4;

// kDequeue keep: bit 0 keep the frames (pool pressure) instead of freeing them at once.
inline constexpr uint8_t kKeep = 1u << 0;

// kDma policy: bits 0-3 completions per poll (0: none, so copies stay in
// flight; 15: all); bit 7 the op `bits 4-6` ahead of the next one fails.
inline constexpr uint8_t kDmaAll = 15;
inline constexpr uint8_t kDmaFail = 1u << 7;

// Guest memory: Rx ring, Tx ring (each at a 4 KiB boundary), then a data
// area whose last kIndBytes hold the indirect tables kChain writes.
struct Geometry {
  static constexpr size_t kDataBytes = 32768;
  static constexpr size_t kIndBytes = 4096;
  static constexpr size_t kIndSlot = 64;  // one table of up to 4 descriptors
  uint32_t n;
  bool packed;
  size_t ring_bytes, rx_off, tx_off, data_off, arena_bytes;
  Geometry(bool p, uint8_t size_sel) : packed(p) {
    n = p ? size_sel + 1u : 1u << (size_sel % 9);
    ring_bytes = p ? virtio::PackedLayout::make(n).total : virtio::SplitLayout::make(n).total;
    const size_t slot = virtio::align_up(ring_bytes, 4096);
    rx_off = 0;
    tx_off = slot;
    data_off = 2 * slot;
    arena_bytes = data_off + kDataBytes;
  }
  // Offsets a chain's segments may start at: the data area before the tables.
  static constexpr size_t kBufBytes = kDataBytes - kIndBytes;
};

}  // namespace vnet::fuzz::burst_in
