// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The split driver ring in the legacy (virtio 0.9.5) layout the PCI
// transport's legacy mode uses: the used ring starts at the next 4096-byte
// boundary after the avail ring, and the driver reads completions there.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "support/ring_pair.h"
#include "ring/split_driver.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {
namespace {

TEST(SplitLegacyLayout, UsedRingOnThePageBoundary) {
  constexpr uint32_t n = 256;
  const auto lay = virtio::SplitLayout::make(n, 4096);
  ASSERT_EQ(lay.used_off % 4096, 0u);
  ASSERT_GT(lay.used_off, virtio::SplitLayout::make(n).used_off);
  alignas(4096) static uint8_t mem[3 * 4096 + 4096];
  ASSERT_LE(lay.total, sizeof mem);
  SplitDriver d;
  HeapShadow shadow(SplitDriver::bytes_needed(n));
  DriverConfig c;
  c.size = n;
  c.ring = RingMem{mem, 0x100000};
  c.shadow = shadow.mem();
  c.used_align = 4096;
  ASSERT_EQ(d.init(c), 0);
  int token = 7;
  const Seg s{0x2000, 1500, true};
  ASSERT_EQ(d.add(&s, 1, &token), 0);
  d.publish();
  // The device's completion, written where a legacy device puts it.
  auto* hdr = reinterpret_cast<virtio::SplitUsedHdr*>(mem + lay.used_off);
  auto* elem = reinterpret_cast<virtio::SplitUsedElem*>(mem + lay.used_off + sizeof(virtio::SplitUsedHdr));
  elem[0].id.set(0);
  elem[0].len.set(60);
  hdr->idx.set(1);
  UsedBuf u[4];
  ASSERT_EQ(d.poll_used(u, 4), 1);
  EXPECT_EQ(u[0].token, &token);
  EXPECT_EQ(u[0].len, 60u);
  EXPECT_FALSE(d.broken());
}

TEST(SplitLegacyLayout, AlignmentMustBeAPowerOfTwo) {
  alignas(4096) static uint8_t mem[4 * 4096];
  SplitDriver d;
  HeapShadow shadow(SplitDriver::bytes_needed(16));
  DriverConfig c;
  c.size = 16;
  c.ring = RingMem{mem, 0};
  c.shadow = shadow.mem();
  c.used_align = 0;
  EXPECT_EQ(d.init(c), -EINVAL);
  c.used_align = 3000;
  EXPECT_EQ(d.init(c), -EINVAL);
  c.used_align = 4;
  EXPECT_EQ(d.init(c), 0);
}

}  // namespace
}  // namespace vnet::ring
