// Loopback: our net_vnet_user against our net_vnet_vhost in one process, the
// same matrix as the interop suite (tests/vhost_pair.h: forked per scenario,
// every frame verified, counts reconciled, no mbuf left outside the pool).
#include <gtest/gtest.h>

#include "vhost_pair.h"

namespace {

using vnet::test::PairScenario;
using vnet::test::run_pair_forked;

PairScenario ours(bool packed, bool mrg, std::vector<uint32_t> sizes, std::string fe_extra = {}) {
  PairScenario s;
  s.frontend = "net_vnet_user";
  s.packed = packed;
  s.mrg = mrg;
  s.sizes = std::move(sizes);
  s.frontend_extra = std::move(fe_extra);
  return s;
}

TEST(Loopback, SplitMergeable) { EXPECT_EQ(run_pair_forked(ours(false, true, {64, 1518, 9000})), 0); }
TEST(Loopback, SplitNoMergeable) { EXPECT_EQ(run_pair_forked(ours(false, false, {64, 1518})), 0); }
TEST(Loopback, PackedMergeable) { EXPECT_EQ(run_pair_forked(ours(true, true, {64, 1518, 9000})), 0); }
TEST(Loopback, PackedNoMergeable) { EXPECT_EQ(run_pair_forked(ours(true, false, {64, 1518})), 0); }
TEST(Loopback, SplitInOrder) { EXPECT_EQ(run_pair_forked(ours(false, true, {64, 1518, 9000}, ",in_order=1")), 0); }
TEST(Loopback, PackedInOrder) { EXPECT_EQ(run_pair_forked(ours(true, true, {64, 1518, 9000}, ",in_order=1")), 0); }
TEST(Loopback, PackedLargeRing) {
  EXPECT_EQ(run_pair_forked(ours(true, true, {64, 1518}, ",queue_size=4096")), 0);
}

// Four queue pairs (multi-queue with the control queue): every queue pair
// carries its own verified traffic.
TEST(Loopback, SplitFourQueuePairs) {
  auto s = ours(false, true, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(s), 0);
}
TEST(Loopback, PackedFourQueuePairs) {
  auto s = ours(true, false, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(s), 0);
}
// DMA copies (dma_skeleton, every copy to DMA) on four queue pairs sharing one channel.
TEST(Loopback, PackedFourQueuePairsDma) {
  auto s = ours(true, true, {64, 1518, 9000});
  s.queues = 4;
  s.count = 400;
  s.eal_extra = {"--vdev", "dma_skeleton0"};
  s.expect_dma = true;
  s.backend_extra =
      ",dmas=[txq0@dma_skeleton0-0;rxq0@dma_skeleton0-0;txq1@dma_skeleton0-0;rxq1@dma_skeleton0-0;"
      "txq2@dma_skeleton0-0;rxq2@dma_skeleton0-0;txq3@dma_skeleton0-0;rxq3@dma_skeleton0-0],dma_threshold=0";
  EXPECT_EQ(run_pair_forked(s), 0);
}

}  // namespace
