// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// pop()'s inline path for a chain of one descriptor, on both layouts: it
// must yield exactly what the general path (chain_reset, chain_append)
// yields, accept and reject the same buffers, and count the same errors:
// good buffers in either region, zero lengths, buffers spanning two regions
// (pieces), addresses outside guest memory or wrapping the address space.
#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "ring/device_common.h"
#include "ring/memory.h"
#include "ring/packed_device.h"
#include "ring/split_device.h"

namespace vnet::ring::test {
namespace {

using virtio::DESC_F_AVAIL;
using virtio::DESC_F_WRITE;

// Guest memory: two adjacent regions whose local copies lie apart, so a
// buffer across their boundary comes back as two pieces.
constexpr uint64_t kBase = 0x100000;
constexpr uint64_t kRegion = 4096;
struct Guest {
  std::vector<uint8_t> a = std::vector<uint8_t>(kRegion), b = std::vector<uint8_t>(kRegion);
  RegionTable t;
  Guest() {
    EXPECT_EQ(t.add(Region{kBase, kRegion, a.data()}), 0);
    EXPECT_EQ(t.add(Region{kBase + kRegion, kRegion, b.data()}), 0);
  }
};

struct Buf {
  uint64_t addr;
  uint32_t len;
  bool write;
};

// In ring order, so the table's last-hit region moves between the cases.
const Buf kCases[] = {
    {kBase + 64, 100, false},               // first region
    {kBase + 64, 100, true},                // writable
    {kBase + kRegion + 8, 100, false},      // second region (not the last hit)
    {kBase + 8, 1, true},                   // back to the first
    {kBase + kRegion - 50, 200, false},     // spans both: two pieces
    {kBase + kRegion - 50, 200, true},      // the same, writable
    {kBase + 2 * kRegion - 1, 1, false},    // the last byte
    {kBase + 128, 0, false},                // zero length: no piece
    {kBase + 128, 0, true},                 // zero length, writable
    {0x10, 64, false},                      // below guest memory
    {kBase - 1, 2, true},                   // starts just below
    {kBase + 2 * kRegion - 10, 64, false},  // runs off the end
    {kBase + 2 * kRegion, 1, false},        // just past the end
    {~uint64_t{0} - 10, 64, true},          // wraps the address space
    {kBase, UINT32_MAX, false},             // longer than guest memory
    {kBase + kRegion, kRegion, true},       // the whole second region
};

// What the general path makes of one descriptor, on a fresh chain.
struct Expect {
  Pop r;
  Chain c;
};
Expect general(RegionTable t, const Buf& b, uint16_t head) {  // a copy: its cache is its own
  Expect e;
  chain_reset(e.c);
  const DevErr err = chain_append(e.c, t, b.addr, b.len, b.write);
  e.r = err == kNoErr ? Pop::Ok : Pop::Dropped;
  if (err != kNoErr) {
    chain_reset(e.c);
    e.c.err = err;
  }
  e.c.head = head;
  e.c.ndesc = 1;
  return e;
}

void expect_same(const Chain& got, const Chain& want, const Buf& b) {
  SCOPED_TRACE(testing::Message() << "addr " << std::hex << b.addr << " len " << b.len << " write " << b.write);
  EXPECT_EQ(got.head, want.head);
  EXPECT_EQ(got.ndesc, want.ndesc);
  EXPECT_EQ(got.nout, want.nout);
  EXPECT_EQ(got.nseg, want.nseg);
  EXPECT_EQ(got.out_len, want.out_len);
  EXPECT_EQ(got.in_len, want.in_len);
  EXPECT_EQ(got.err, want.err);
  EXPECT_EQ(got.seen_write, want.seen_write);
  for (uint16_t i = 0; i < want.nseg && i < got.nseg; ++i) {
    EXPECT_EQ(got.segs[i].ptr, want.segs[i].ptr) << "piece " << i;
    EXPECT_EQ(got.segs[i].len, want.segs[i].len) << "piece " << i;
  }
}

constexpr uint32_t kSize = 32;  // more slots than cases: no wrap, one lap
static_assert(std::size(kCases) <= kSize);

// Each case popped by the ring (inline path where it applies) against the
// general path over the same table; errors counted once per dropped case.
template <class Dev, class Put>
void run(Dev& dev, const RegionTable& t, Put&& put) {
  uint64_t dropped = 0;
  for (uint16_t i = 0; i < std::size(kCases); ++i) {
    const Buf& b = kCases[i];
    put(i, b);
    const Expect want = general(t, b, i);
    Chain c;
    ASSERT_EQ(dev.pop(c), want.r) << "case " << i;
    expect_same(c, want.c, b);
    dropped += want.r == Pop::Dropped;
  }
  EXPECT_EQ(dev.errors().total(), dropped);
  EXPECT_GT(dropped, 0u);
  EXPECT_FALSE(dev.broken());
  Chain c;
  EXPECT_EQ(dev.pop(c), Pop::Empty);
}

TEST(DevicePop, PackedInlinePathMatchesTheGeneralOne) {
  Guest g;
  virtio::PackedDesc desc[kSize]{};
  virtio::PackedEvent drv{}, devev{};
  DeviceConfig cfg;
  cfg.layout = Layout::Packed;
  cfg.size = kSize;
  cfg.desc = desc;
  cfg.avail = &drv;
  cfg.used = &devev;
  PackedDevice<RegionTable> dev;
  ASSERT_EQ(dev.init(cfg, &g.t), 0);
  run(dev, g.t, [&](uint16_t i, const Buf& b) {
    desc[i].addr.set(b.addr);
    desc[i].len.set(b.len);
    desc[i].id.set(i);
    desc[i].flags.set(static_cast<uint16_t>(DESC_F_AVAIL | (b.write ? DESC_F_WRITE : 0)));  // wrap 1
  });
}

TEST(DevicePop, SplitInlinePathMatchesTheGeneralOne) {
  Guest g;
  const auto l = virtio::SplitLayout::make(kSize);
  std::vector<uint64_t> mem(l.total / 8 + 1);
  auto* base = reinterpret_cast<uint8_t*>(mem.data());
  auto* desc = reinterpret_cast<virtio::SplitDesc*>(base + l.desc_off);
  auto* avail = reinterpret_cast<virtio::SplitAvailHdr*>(base + l.avail_off);
  auto* ring = reinterpret_cast<virtio::le16*>(avail + 1);
  DeviceConfig cfg;
  cfg.size = kSize;
  cfg.desc = desc;
  cfg.avail = avail;
  cfg.used = base + l.used_off;
  SplitDevice<RegionTable> dev;
  ASSERT_EQ(dev.init(cfg, &g.t), 0);
  run(dev, g.t, [&](uint16_t i, const Buf& b) {
    desc[i].addr.set(b.addr);
    desc[i].len.set(b.len);
    desc[i].flags.set(b.write ? DESC_F_WRITE : 0);
    ring[i].set(i);
    avail->idx.set(static_cast<uint16_t>(i + 1));
  });
}

// An emptied table is never hit through its last-hit slot, by either path.
TEST(DevicePop, EmptiedTableTranslatesNothing) {
  Guest g;
  EXPECT_NE(g.t.translate_last(kBase + 1, 1), nullptr);
  RegionTable t = g.t;
  ASSERT_EQ(t.remove(kBase + kRegion, kRegion), 0);
  ASSERT_EQ(t.remove(kBase, kRegion), 0);
  EXPECT_EQ(t.translate_last(kBase + 1, 1), nullptr);
  EXPECT_EQ(t.translate(kBase + 1, 1), nullptr);
  g.t.clear();
  EXPECT_EQ(g.t.translate_last(kBase + 1, 1), nullptr);
  EXPECT_EQ(g.t.translate(kBase + 1, 1), nullptr);
}

// pop4() takes four chains at once only where four pop()s would each take
// a one-descriptor chain through the inline path; anywhere else it
// consumes nothing, counts nothing, and pop() judges the chains one by one.
TEST(DevicePop, PackedPop4IsFourPopsOrNothing) {
  constexpr uint32_t kRing4 = 36;  // one lap: the cases below, ending on the last line
  Guest g;
  virtio::PackedDesc desc[kRing4]{};
  virtio::PackedEvent drv{}, devev{};
  DeviceConfig cfg;
  cfg.layout = Layout::Packed;
  cfg.size = kRing4;
  cfg.desc = desc;
  cfg.avail = &drv;
  cfg.used = &devev;
  PackedDevice<RegionTable> dev;
  ASSERT_EQ(dev.init(cfg, &g.t), 0);
  uint16_t next = 0;
  auto put = [&](const Buf& b, uint16_t id, uint16_t extra = 0) {
    desc[next].addr.set(b.addr);
    desc[next].len.set(b.len);
    desc[next].id.set(id);
    desc[next].flags.set(static_cast<uint16_t>(DESC_F_AVAIL | extra | (b.write ? DESC_F_WRITE : 0)));
    ++next;
  };
  const Buf a{kBase + 64, 100, true}, b{kBase + 1000, 60, false};  // in the first region, the last hit
  // Four pop()s of the same four slots, on a ring in the same state.
  auto expect_four = [&](Chain* got, uint16_t from) {
    for (uint16_t i = 0; i < 4; ++i) {
      const Buf x{desc[from + i].addr.get(), desc[from + i].len.get(),
                  (desc[from + i].flags.get() & DESC_F_WRITE) != 0};
      expect_same(got[i], general(g.t, x, desc[from + i].id.get()).c, x);
    }
  };
  Chain c[4];

  // Slots 0-3: good buffers: one pop4.
  put(a, 3);
  put(b, 2);
  put(a, 1);
  put(b, 0);
  ASSERT_TRUE(dev.pop4(c));
  expect_four(c, 0);
  EXPECT_EQ(dev.save().idx, 4);

  // Each of these in one of four slots stops the batch; pop() then takes
  // the same chains one by one, with the same verdicts as the general path.
  struct Odd {
    Buf buf;
    uint16_t id, flags;
  };
  const Odd odd[] = {
      {{kBase + kRegion + 8, 60, false}, 1, 0},    // the other region: pop() then moves the last hit there
      {{kBase + kRegion - 50, 200, false}, 1, 0},  // spans both regions
      {{kBase + 128, 0, true}, 1, 0},              // zero length
      {{0x10, 64, false}, 1, 0},                   // outside guest memory
      {{kBase + 64, 100, false}, 1, virtio::DESC_F_NEXT},
  };
  for (const Odd& o : odd) {
    const uint16_t from = next;
    put(a, 0);
    if (o.flags & virtio::DESC_F_NEXT) {
      put(o.buf, 9, o.flags);  // a two-slot chain: its id is in the next slot
      put(b, o.id);
    } else {
      put(o.buf, o.id);
      put(b, 2);
    }
    put(a, 3);
    const uint64_t errs = dev.errors().total();
    ASSERT_FALSE(dev.pop4(c));
    EXPECT_EQ(dev.save().idx, from) << "nothing consumed";
    EXPECT_EQ(dev.errors().total(), errs) << "nothing counted";
    uint16_t slots = 0;
    while (slots < 4) {
      Chain one;
      const Pop r = dev.pop(one);
      ASSERT_TRUE(r == Pop::Ok || r == Pop::Dropped);
      slots = static_cast<uint16_t>(slots + one.ndesc);
    }
    EXPECT_EQ(dev.save().idx, from + 4);
  }

  // Not all four available yet; then available.
  put(a, 0);
  put(b, 1);
  put(a, 2);
  ASSERT_FALSE(dev.pop4(c));
  put(b, 3);
  ASSERT_TRUE(dev.pop4(c));
  expect_four(c, static_cast<uint16_t>(next - 4));

  // Not on a line of the table: one pop(), then pop4 declines.
  for (int i = 0; i < 8; ++i) put(a, static_cast<uint16_t>(i));
  Chain one;
  ASSERT_EQ(dev.pop(one), Pop::Ok);
  ASSERT_FALSE(dev.pop4(c));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(dev.pop(one), Pop::Ok);
  ASSERT_TRUE(dev.pop4(c));  // slots 32-35: the last line, then the wrap
  EXPECT_EQ(dev.save().idx, 0);
  EXPECT_FALSE(dev.save().wrap);
  EXPECT_FALSE(dev.broken());

  // An id out of range is left to pop(), which breaks the ring.
  next = 0;
  auto put0 = [&](const Buf& x, uint16_t id) {  // wrap counter 0: AVAIL clear, USED set
    desc[next].addr.set(x.addr);
    desc[next].len.set(x.len);
    desc[next].id.set(id);
    desc[next].flags.set(static_cast<uint16_t>(virtio::DESC_F_USED | (x.write ? DESC_F_WRITE : 0)));
    ++next;
  };
  put0(a, 0);
  put0(a, 1);
  put0(a, 2);
  put0(a, 3);
  ASSERT_TRUE(dev.pop4(c));  // second lap
  expect_four(c, 0);
  put0(a, 0);
  put0(a, kRing4);
  put0(a, 2);
  put0(a, 3);
  ASSERT_FALSE(dev.pop4(c));
  EXPECT_FALSE(dev.broken());
  ASSERT_EQ(dev.pop(one), Pop::Ok);
  EXPECT_EQ(dev.pop(one), Pop::Broken);
  EXPECT_EQ(dev.errors()[DevErr::PackedIdOutOfRange], 1u);
}

}  // namespace
}  // namespace vnet::ring::test
