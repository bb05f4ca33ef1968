// Interop: DPDK's own net_virtio_user (Debian's plugin) against our
// net_vnet_vhost (linked into this binary) in one process; the harness is
// tests/vhost_pair.h (forked per scenario, every frame verified).
#include <gtest/gtest.h>

#include "vhost_pair.h"

namespace {

using vnet::test::PairScenario;
using vnet::test::run_pair_forked;

PairScenario dpdk(bool packed, bool mrg, std::vector<uint32_t> sizes) {
  PairScenario s;
  s.frontend = "net_virtio_user";
  s.packed = packed;
  s.mrg = mrg;
  s.sizes = std::move(sizes);
  return s;
}

TEST(VhostInterop, SplitMergeable) { EXPECT_EQ(run_pair_forked(dpdk(false, true, {64, 1518, 9000})), 0); }
TEST(VhostInterop, SplitNoMergeable) { EXPECT_EQ(run_pair_forked(dpdk(false, false, {64, 1518})), 0); }
TEST(VhostInterop, PackedMergeable) { EXPECT_EQ(run_pair_forked(dpdk(true, true, {64, 1518})), 0); }
TEST(VhostInterop, PackedMergeableJumboToVirtio) {
  auto s = dpdk(true, true, {9000});
  s.to_backend = false;
  EXPECT_EQ(run_pair_forked(s), 0);
}
// DPDK's virtio transmits multi-segment frames on a packed ring through an
// indirect table whose header entry carries VRING_DESC_F_WRITE; the backend
// marks transmit queues read_only so the ring ignores that flag.
TEST(VhostInterop, PackedMergeableJumboFromVirtio) {
  auto s = dpdk(true, true, {9000});
  s.from_backend = false;
  EXPECT_EQ(run_pair_forked(s), 0);
}
TEST(VhostInterop, PackedNoMergeable) { EXPECT_EQ(run_pair_forked(dpdk(true, false, {64, 1518})), 0); }

// Four queue pairs: every queue carries its own verified traffic.
TEST(VhostInterop, SplitFourQueuePairs) {
  auto s = dpdk(false, true, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(s), 0);
}
TEST(VhostInterop, PackedFourQueuePairs) {
  auto s = dpdk(true, false, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(s), 0);
}

// The same matrix with the backend's copies offloaded to DPDK's software
// dma_skeleton (one vchan shared by every queue: all run on this lcore).
// Threshold 0: every payload copy goes to DMA; 256: small ones stay on the CPU.
PairScenario with_dma(PairScenario s, uint32_t threshold) {
  std::string map;
  for (uint16_t q = 0; q < s.queues; ++q)
    map += (q ? ";" : "") + std::string("txq") + std::to_string(q) + "@dma_skeleton0-0;rxq" + std::to_string(q) +
           "@dma_skeleton0-0";
  s.eal_extra = {"--vdev", "dma_skeleton0"};
  s.backend_extra = ",dmas=[" + map + "],dma_threshold=" + std::to_string(threshold);
  s.expect_dma = true;
  return s;
}

class VhostInteropDma : public ::testing::TestWithParam<uint32_t> {};

TEST_P(VhostInteropDma, SplitMergeable) {
  EXPECT_EQ(run_pair_forked(with_dma(dpdk(false, true, {64, 1518, 9000}), GetParam())), 0);
}
TEST_P(VhostInteropDma, SplitNoMergeable) {
  EXPECT_EQ(run_pair_forked(with_dma(dpdk(false, false, {64, 1518}), GetParam())), 0);
}
TEST_P(VhostInteropDma, PackedMergeable) {
  EXPECT_EQ(run_pair_forked(with_dma(dpdk(true, true, {64, 1518}), GetParam())), 0);
}
TEST_P(VhostInteropDma, PackedMergeableJumbo) {
  EXPECT_EQ(run_pair_forked(with_dma(dpdk(true, true, {9000}), GetParam())), 0);
}
TEST_P(VhostInteropDma, PackedNoMergeable) {
  EXPECT_EQ(run_pair_forked(with_dma(dpdk(true, false, {64, 1518}), GetParam())), 0);
}
TEST_P(VhostInteropDma, SplitFourQueuePairs) {
  auto s = dpdk(false, true, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(with_dma(s, GetParam())), 0);
}
TEST_P(VhostInteropDma, PackedFourQueuePairs) {
  auto s = dpdk(true, false, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_EQ(run_pair_forked(with_dma(s, GetParam())), 0);
}
INSTANTIATE_TEST_SUITE_P(Threshold, VhostInteropDma, ::testing::Values(0u, 256u),
                         [](const auto& i) { return "T" + std::to_string(i.param); });

}  // namespace
