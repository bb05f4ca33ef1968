// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Interop: DPDK's own net_virtio_user (Debian's plugin) against our
// net_vnet_vhost (linked into this binary) in one process; the harness is
// tests/vhost_pair.h (forked per scenario, every frame verified).
#include <gtest/gtest.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>

#include "vnet/rte_pmd_vnet_vhost.h"
#include "vhost_pair.h"

namespace {

using vnet::test::PairScenario;
using vnet::test::run_pair_forked;
using vnet::test::with_dma;

PairScenario dpdk(bool packed, bool mrg, std::vector<uint32_t> sizes) {
  return vnet::test::scenario("net_virtio_user", packed, mrg, std::move(sizes));
}

TEST(VhostInterop, SplitMergeable) { EXPECT_CHILD_OK(run_pair_forked(dpdk(false, true, {64, 1518, 9000}))); }
TEST(VhostInterop, SplitNoMergeable) { EXPECT_CHILD_OK(run_pair_forked(dpdk(false, false, {64, 1518}))); }
TEST(VhostInterop, PackedMergeable) { EXPECT_CHILD_OK(run_pair_forked(dpdk(true, true, {64, 1518}))); }
TEST(VhostInterop, PackedMergeableJumboToVirtio) {
  auto s = dpdk(true, true, {9000});
  s.to_backend = false;
  EXPECT_CHILD_OK(run_pair_forked(s));
}
// DPDK's virtio transmits multi-segment frames on a packed ring through an
// indirect table whose header entry carries VRING_DESC_F_WRITE; the backend
// marks transmit queues read_only so the ring ignores that flag.
TEST(VhostInterop, PackedMergeableJumboFromVirtio) {
  auto s = dpdk(true, true, {9000});
  s.from_backend = false;
  EXPECT_CHILD_OK(run_pair_forked(s));
}
TEST(VhostInterop, PackedNoMergeable) { EXPECT_CHILD_OK(run_pair_forked(dpdk(true, false, {64, 1518}))); }

// Four queue pairs: every queue carries its own verified traffic.
TEST(VhostInterop, SplitFourQueuePairs) {
  EXPECT_CHILD_OK(run_pair_forked(vnet::test::four_queue_pairs(dpdk(false, true, {64, 1518}))));
}
TEST(VhostInterop, PackedFourQueuePairs) {
  EXPECT_CHILD_OK(run_pair_forked(vnet::test::four_queue_pairs(dpdk(true, false, {64, 1518}))));
}

// The same matrix with the backend's copies offloaded to DPDK's software
// dma_skeleton (vnet::test::with_dma). Threshold 0: every payload copy goes
// to DMA; 256: small ones stay on the CPU.
class VhostInteropDma : public ::testing::TestWithParam<uint32_t> {};

TEST_P(VhostInteropDma, SplitMergeable) {
  EXPECT_CHILD_OK(run_pair_forked(with_dma(dpdk(false, true, {64, 1518, 9000}), GetParam())));
}
TEST_P(VhostInteropDma, SplitNoMergeable) {
  EXPECT_CHILD_OK(run_pair_forked(with_dma(dpdk(false, false, {64, 1518}), GetParam())));
}
TEST_P(VhostInteropDma, PackedMergeable) {
  EXPECT_CHILD_OK(run_pair_forked(with_dma(dpdk(true, true, {64, 1518}), GetParam())));
}
TEST_P(VhostInteropDma, PackedMergeableJumbo) {
  EXPECT_CHILD_OK(run_pair_forked(with_dma(dpdk(true, true, {9000}), GetParam())));
}
TEST_P(VhostInteropDma, PackedNoMergeable) {
  EXPECT_CHILD_OK(run_pair_forked(with_dma(dpdk(true, false, {64, 1518}), GetParam())));
}
TEST_P(VhostInteropDma, SplitFourQueuePairs) {
  auto s = dpdk(false, true, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_CHILD_OK(run_pair_forked(with_dma(s, GetParam())));
}
TEST_P(VhostInteropDma, PackedFourQueuePairs) {
  auto s = dpdk(true, false, {64, 1518});
  s.queues = 4;
  s.count = 1000;
  EXPECT_CHILD_OK(run_pair_forked(with_dma(s, GetParam())));
}
// The frontend goes away while the backend has copies in flight both ways:
// the drain must finish (or stop) them before the memory is unmapped, free
// every mbuf, and leave the port usable for the next frontend.
int disconnect_in_flight(const std::string& dir, bool packed) {
  using namespace vnet::test;
  const std::string sock = dir + "/vhost.sock";
  const std::string prefix = "--file-prefix=vnet-dmadisc-" + std::to_string(::getpid());
  const std::string vhost =
      "net_vnet_vhost0,iface=" + sock + ",queues=1,dmas=[txq0@dma_skeleton0-0;rxq0@dma_skeleton0-0],dma_threshold=0";
  const std::string fe_args = "path=" + sock + ",queues=1,packed_vq=" + (packed ? "1" : "0");
  std::vector<std::string> args = {"test",     "--no-huge",
                                   "-m",       "512",
                                   "--no-pci", "-l",
                                   "0",        prefix,
                                   "--vdev",   "dma_skeleton0",
                                   "--vdev",   vhost,
                                   "--vdev",   "net_virtio_user0," + fe_args};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  PAIR_CHECK(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "rte_eal_init");
  uint16_t pv, pu;
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_vnet_vhost0", &pv) == 0, "backend not probed");
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_virtio_user0", &pu) == 0, "frontend not probed");
  rte_mempool* mp = rte_pktmbuf_pool_create("disc", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  PAIR_CHECK(mp, "mempool");
  PAIR_CHECK(setup_port(pv, mp, false, 1) == 0 && setup_port(pu, mp, false, 1) == 0, "port set-up");
  auto link_is = [&](bool up) { return wait_link(pv, up); };
  PAIR_CHECK(link_is(true), "link never came up");

  // Load both directions until copies are in flight.
  rte_mbuf* pkts[32];
  int tx_inflight = 0, rx_inflight = 0;
  auto load = [&] {
    tx_inflight = rx_inflight = 0;
    for (int round = 0; round < 2000 && (tx_inflight == 0 || rx_inflight == 0); ++round) {
      for (uint16_t port : {pv, pu}) {
        uint16_t n = 0;
        for (; n < 32; ++n)
          if (!(pkts[n] = make_frame(mp, n, 1518))) break;
        const uint16_t k = rte_eth_tx_burst(port, 0, pkts, n);
        for (uint16_t i = k; i < n; ++i) rte_pktmbuf_free(pkts[i]);
      }
      // Receive on the backend only now and then: frames pile up there too.
      if (round % 4 == 0)
        for (uint16_t port : {pv, pu}) {
          const uint16_t n = rte_eth_rx_burst(port, 0, pkts, 32);
          for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(pkts[i]);
        }
      tx_inflight = rte_pmd_vnet_vhost_inflight(pv, 0, 0);
      rx_inflight = rte_pmd_vnet_vhost_inflight(pv, 0, 1);
    }
  };
  // First the backend port stops with copies in flight: the stop drains them.
  load();
  std::fprintf(stderr, "in flight at port stop: tx %d rx %d\n", tx_inflight, rx_inflight);
  PAIR_CHECK(tx_inflight > 0 || rx_inflight > 0, "never had a copy in flight");
  PAIR_CHECK(rte_eth_dev_stop(pv) == 0, "backend stop");
  PAIR_CHECK(rte_pmd_vnet_vhost_inflight(pv, 0, 0) == 0 && rte_pmd_vnet_vhost_inflight(pv, 0, 1) == 0,
             "copies still in flight after the port stopped");
  PAIR_CHECK(rte_eth_dev_start(pv) == 0, "backend restart");
  PAIR_CHECK(link_is(true), "link not up after restart");
  // Then the frontend leaves with copies in flight.
  load();
  std::fprintf(stderr, "in flight at disconnect: tx %d rx %d\n", tx_inflight, rx_inflight);
  PAIR_CHECK(tx_inflight > 0, "never had a Tx copy in flight");
  rte_eth_dev_stop(pu);
  rte_eth_dev_close(pu);
  PAIR_CHECK(link_is(false), "backend never saw the frontend leave");
  PAIR_CHECK(rte_pmd_vnet_vhost_inflight(pv, 0, 0) == 0 && rte_pmd_vnet_vhost_inflight(pv, 0, 1) == 0,
             "copies still in flight after the frontend left");

  // A new frontend: verified traffic both ways on the same backend port.
  PAIR_CHECK(rte_eal_hotplug_add("vdev", "net_virtio_user1", fe_args.c_str()) == 0, "second frontend");
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_virtio_user1", &pu) == 0, "second frontend has no port");
  PAIR_CHECK(setup_port(pu, mp, false, 1) == 0, "second frontend set-up");
  PAIR_CHECK(link_is(true), "link never came back");
  int failed = 0;
  for (int to_backend = 1; to_backend >= 0; --to_backend) {
    const auto r = exchange(to_backend ? pu : pv, to_backend ? pv : pu, mp, 2000, 1518, 128, 20.0);
    std::fprintf(stderr, "after reconnect %s: sent %lu received %lu bad %lu dup %lu\n",
                 to_backend ? "frontend->vhost" : "vhost->frontend", r.sent, r.received, r.bad, r.dup);
    PAIR_EXPECT(failed, r.ok(2000), "traffic after the reconnect");
  }
  rte_eth_dev_stop(pu);
  rte_eth_dev_close(pu);
  rte_eth_dev_stop(pv);
  rte_eth_dev_close(pv);
  const unsigned avail = rte_mempool_avail_count(mp);
  PAIR_EXPECT(failed, avail == mp->size, "mempool: %u of %u mbufs back", avail, mp->size);
  rte_mempool_free(mp);
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_dir(runtime);
  return failed;
}

// Two queue pairs on one dmadev vchan, polled from two lcores at once (the
// channel flag serialises them); then xstats (names, reset, gauges) and the
// MTU range.
struct LcoreJob {
  uint16_t tx, rx;
  rte_mempool* mp;
  vnet::test::TrafficResult r;
};

int lcore_exchange(void* arg) {
  auto* j = static_cast<LcoreJob*>(arg);
  j->r = vnet::test::exchange(j->tx, j->rx, j->mp, 3000, 1518, 128, 30.0, 1);
  return 0;
}

int two_lcores_and_xstats(const std::string& dir) {
  using namespace vnet::test;
  const std::string sock = dir + "/vhost.sock";
  const std::string prefix = "--file-prefix=vnet-dma2l-" + std::to_string(::getpid());
  const std::string vhost = "net_vnet_vhost0,iface=" + sock +
                            ",queues=2,dmas=[txq0@dma_skeleton0-0;rxq0@dma_skeleton0-0;txq1@dma_skeleton0-0;"
                            "rxq1@dma_skeleton0-0],dma_threshold=0";
  std::vector<std::string> args = {"test",     "--no-huge",
                                   "-m",       "512",
                                   "--no-pci", "-l",
                                   "0,1",      prefix,
                                   "--vdev",   "dma_skeleton0",
                                   "--vdev",   vhost,
                                   "--vdev",   "net_virtio_user0,path=" + sock + ",queues=2"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  PAIR_CHECK(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "rte_eal_init");
  uint16_t pv, pu;
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_vnet_vhost0", &pv) == 0, "backend not probed");
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_virtio_user0", &pu) == 0, "frontend not probed");
  rte_mempool* mp = rte_pktmbuf_pool_create("two", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  PAIR_CHECK(mp, "mempool");
  PAIR_CHECK(setup_port(pv, mp, false, 2) == 0 && setup_port(pu, mp, false, 2) == 0, "port set-up");
  PAIR_CHECK(wait_link(pv, true), "link never came up");
  int failed = 0;
  for (int to_backend = 1; to_backend >= 0; --to_backend) {
    const uint16_t tx = to_backend ? pu : pv, rx = to_backend ? pv : pu;
    LcoreJob job{tx, rx, mp, {}};
    PAIR_CHECK(rte_eal_remote_launch(lcore_exchange, &job, 1) == 0, "launch on lcore 1");
    const auto r0 = exchange(tx, rx, mp, 3000, 1518, 128, 30.0, 0);
    rte_eal_wait_lcore(1);
    std::fprintf(stderr, "two lcores %s: q0 %lu/%lu bad %lu, q1 %lu/%lu bad %lu\n",
                 to_backend ? "frontend->vhost" : "vhost->frontend", r0.received, r0.sent, r0.bad, job.r.received,
                 job.r.sent, job.r.bad);
    PAIR_EXPECT(failed, r0.ok(3000) && job.r.ok(3000), "traffic on two lcores");
  }
  // xstats: every queue copied its 3000 frames by DMA; reset zeroes counters, not gauges.
  for (const char* q : {"rx_q0_", "rx_q1_", "tx_q0_", "tx_q1_"}) {
    const int64_t pk = xstat_named(pv, std::string(q) + "packets"),
                  dma = xstat_named(pv, std::string(q) + "dma_copies");
    PAIR_EXPECT(failed, pk == 3000 && dma >= pk, "%s: packets %ld (want 3000), dma copies %ld", q, pk, dma);
    failed += !dma_plausible(pv, q, 0);
  }
  PAIR_CHECK(xstat_sum(pv, "", "ring_bad_address") == 0, "ring errors seen");
  PAIR_CHECK(xstat_sum(pv, "vhost_", "messages") > 0, "no vhost-user message counted");
  const uint64_t hwm = xstat_sum(pv, "tx_q0_", "inflight_hwm");
  PAIR_CHECK(rte_eth_xstats_reset(pv) == 0, "xstats_reset");
  PAIR_CHECK(xstat_sum(pv, "", "_packets") == 0 && xstat_sum(pv, "", "_dma_copies") == 0 &&
                 xstat_sum(pv, "", "_good_bytes") == 0,
             "reset left counters");
  PAIR_CHECK(hwm > 0 && xstat_sum(pv, "tx_q0_", "inflight_hwm") == hwm, "high-water mark %lu lost on reset", hwm);
  // MTU: inside what dev_infos advertises, or -EINVAL.
  PAIR_CHECK(rte_eth_dev_set_mtu(pv, 9000) == 0, "MTU 9000 refused");
  PAIR_CHECK(rte_eth_dev_set_mtu(pv, 67) == -EINVAL, "MTU 67 accepted");
  PAIR_CHECK(rte_eth_dev_set_mtu(pv, 65535) == -EINVAL, "MTU 65535 accepted");
  // Probe errors: a missing dmadev, one this port already uses (busy), a
  // queue the port does not have, a malformed entry. No socket stays behind.
  const char* bad[] = {"dmas=[txq0@nosuch0-0]", "dmas=[txq0@dma_skeleton0-0]", "dmas=[txq1@dma_skeleton0-0]",
                       "dmas=[txq0-dma_skeleton0@0]", "dmas=[txq0@dma_skeleton0-0],dma_threshold=-1"};
  for (unsigned i = 0; i < std::size(bad); ++i) {
    std::string name = "net_vnet_vhost", sk = dir, a = "iface=";
    name += std::to_string(i + 1);
    sk += "/bad" + std::to_string(i) + ".sock";
    a += sk;
    a += ",";
    a += bad[i];
    const int rc = rte_eal_hotplug_add("vdev", name.c_str(), a.c_str());
    std::fprintf(stderr, "probe with %s: %d\n", bad[i], rc);
    PAIR_EXPECT(failed, rc < 0, "probe with %s succeeded", bad[i]);
    PAIR_EXPECT(failed, ::access(sk.c_str(), F_OK) != 0, "probe with %s left its socket behind", bad[i]);
  }
  rte_eth_dev_stop(pu);
  rte_eth_dev_close(pu);
  rte_eth_dev_stop(pv);
  rte_eth_dev_close(pv);
  // The closed port released the dmadev: a new port may take it.
  {
    std::string a = "iface=";
    a += dir;
    a += "/again.sock,dmas=[txq0@dma_skeleton0-0]";
    const int rc = rte_eal_hotplug_add("vdev", "net_vnet_vhost9", a.c_str());
    std::fprintf(stderr, "probe after the first port closed: %d\n", rc);
    PAIR_EXPECT(failed, rc == 0, "probe after the first port closed: %d", rc);
    uint16_t p9;
    if (rc == 0 && rte_eth_dev_get_port_by_name("net_vnet_vhost9", &p9) == 0) rte_eth_dev_close(p9);
  }
  const unsigned avail = rte_mempool_avail_count(mp);
  PAIR_EXPECT(failed, avail == mp->size, "mempool: %u of %u mbufs back", avail, mp->size);
  rte_mempool_free(mp);
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_dir(runtime);
  return failed;
}

TEST(VhostInteropDmaShared, TwoLcoresOneVchanXstatsAndMtu) {
  EXPECT_CHILD_OK(vnet::test::forked_in_dir(two_lcores_and_xstats));
}

TEST(VhostInteropDmaDisconnect, SplitWithCopiesInFlight) {
  EXPECT_CHILD_OK(vnet::test::forked_in_dir([](const std::string& d) { return disconnect_in_flight(d, false); }));
}
TEST(VhostInteropDmaDisconnect, PackedWithCopiesInFlight) {
  EXPECT_CHILD_OK(vnet::test::forked_in_dir([](const std::string& d) { return disconnect_in_flight(d, true); }));
}

INSTANTIATE_TEST_SUITE_P(Threshold, VhostInteropDma, ::testing::Values(0u, 256u),
                         [](const auto& i) { return "T" + std::to_string(i.param); });

}  // namespace
