// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The frontend's per-queue size buckets (count_size in src/net/queue.h):
// every length from 0 to past the largest frame, and the largest lengths a
// uint32_t holds, land in the bucket the xstats names promise. No EAL.
#include <gtest/gtest.h>

#include <cstdint>

#include "net/queue.h"

namespace vnet::net {
namespace {

// The buckets as the xstats names state them, written the slow way.
unsigned expected_bin(uint32_t len) {
  if (len < 64) return 0;
  if (len == 64) return 1;
  if (len <= 127) return 2;
  if (len <= 255) return 3;
  if (len <= 511) return 4;
  if (len <= 1023) return 5;
  if (len <= 1518) return 6;
  return 7;
}

void expect_bin(uint32_t len) {
  QueueStats st;
  count_size(st, len);
  for (unsigned b = 0; b < std::size(st.size_bins); ++b)
    ASSERT_EQ(st.size_bins[b], b == expected_bin(len) ? 1u : 0u) << "length " << len << ", bucket " << b;
}

TEST(QueueStats, EveryLengthUpTo64KLandsInItsBucket) {
  for (uint32_t len = 0; len <= 70000; ++len) expect_bin(len);
}

TEST(QueueStats, HugeLengthsLandInTheLastBucket) {
  for (const uint32_t len : {1u << 16, (1u << 20) + 1, 1u << 31, UINT32_MAX - 1, UINT32_MAX}) expect_bin(len);
}

}  // namespace
}  // namespace vnet::net
