// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Loopback: our net_vnet_user against our net_vnet_vhost in one process, the
// same matrix as the interop suite (tests/vhost_pair.h: forked per scenario,
// every frame verified, counts reconciled, no mbuf left outside the pool).
#include <gtest/gtest.h>

#include <rte_bus_vdev.h>

#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "vhost_pair.h"

namespace {

using vnet::test::PairScenario;
using vnet::test::run_pair_forked;

PairScenario ours(bool packed, bool mrg, std::vector<uint32_t> sizes, std::string fe_extra = {}) {
  return vnet::test::scenario("net_vnet_user", packed, mrg, std::move(sizes), std::move(fe_extra));
}

TEST(Loopback, SplitMergeable) { EXPECT_CHILD_OK(run_pair_forked(ours(false, true, {64, 1518, 9000}))); }
TEST(Loopback, SplitNoMergeable) { EXPECT_CHILD_OK(run_pair_forked(ours(false, false, {64, 1518}))); }
TEST(Loopback, PackedMergeable) { EXPECT_CHILD_OK(run_pair_forked(ours(true, true, {64, 1518, 9000}))); }
TEST(Loopback, PackedNoMergeable) { EXPECT_CHILD_OK(run_pair_forked(ours(true, false, {64, 1518}))); }
TEST(Loopback, SplitInOrder) { EXPECT_CHILD_OK(run_pair_forked(ours(false, true, {64, 1518, 9000}, ",in_order=1"))); }
TEST(Loopback, PackedInOrder) { EXPECT_CHILD_OK(run_pair_forked(ours(true, true, {64, 1518, 9000}, ",in_order=1"))); }
TEST(Loopback, PackedLargeRing) { EXPECT_CHILD_OK(run_pair_forked(ours(true, true, {64, 1518}, ",queue_size=4096"))); }

// The other way round: the backend connects (client=1, retrying) to the
// frontend's socket (server=1, which no longer blocks its probe).
TEST(Loopback, BackendClientFrontendServer) {
  auto s = ours(true, true, {64, 1518}, ",server=1");
  s.backend_extra = ",client=1";
  EXPECT_CHILD_OK(run_pair_forked(s));
}

// Hugepages instead of --no-huge: with --single-file-segments the memory is
// one region; without, every 2 MiB page is its own file, so the frontend must
// add regions one by one (ADD_MEM_REG, CONFIGURE_MEM_SLOTS) instead of failing
// with "too many memory regions". The test mounts hugetlbfs in a private
// directory and reserves 2 MiB pages for itself (in the 2 MiB pool, whatever
// the default page size), then gives both back.
class Hugepages {
 public:
  static constexpr long kPages = 96;
  static constexpr const char* kNr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

  Hugepages() {
    if (::geteuid() != 0) {
      why_ = "not root: cannot mount hugetlbfs or reserve pages";
      return;
    }
    old_ = read_nr();
    if (old_ < 0) {
      why_ = std::string("no 2 MiB hugepage pool: ") + kNr + ": " + std::strerror(errno);
      return;
    }
    dir_ = vnet::test::private_dir();
    if (dir_.empty()) {
      why_ = "no private directory under /run or /var/tmp";
      return;
    }
    if (::mount("nodev", dir_.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
      why_ = std::string("mount -t hugetlbfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
    reserved_ = true;  // from here on the pool is put back as it was, whatever the write did
    const long got = write_nr(old_ + kPages) ? read_nr() - old_ : 0;
    if (got < kPages)
      why_ = "asked the kernel for " + std::to_string(kPages) + " more 2 MiB pages, got " + std::to_string(got);
  }
  ~Hugepages() {
    // Lazily if busy: a mount must not outlive the test (its pages then go
    // back when the last user lets go).
    if (mounted_ && ::umount(dir_.c_str()) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
    if (reserved_) write_nr(old_);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool ok() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }
  long before() const { return old_; }

  static long read_nr() {
    FILE* f = std::fopen(kNr, "r");
    long v = -1;
    if (f && std::fscanf(f, "%ld", &v) != 1) v = -1;
    if (f) std::fclose(f);
    return v;
  }

 private:
  static bool write_nr(long v) {
    FILE* f = std::fopen(kNr, "w");
    if (!f) return false;
    const bool ok = std::fprintf(f, "%ld", v) > 0;
    return std::fclose(f) == 0 && ok;
  }
  std::string dir_, why_;
  bool mounted_ = false, reserved_ = false;
  long old_ = -1;
};

// CI runs these tests as root (tools/vnet test): there a test that cannot
// run is a broken set-up, not a reason to skip. CI services set CI=true.
bool in_ci() {
  const char* e = std::getenv("CI");
  return e && *e && std::strcmp(e, "false") != 0 && std::strcmp(e, "0") != 0;
}

void hugepage_run(bool single_file) {
  long before = -1;
  std::string dir;
  {
    Hugepages h;
    if (!h.ok()) {
      if (in_ci()) FAIL() << "hugepages must work under CI (CI=" << std::getenv("CI") << "): " << h.why();
      GTEST_SKIP() << h.why();
    }
    before = h.before();
    dir = h.dir();
    auto s = ours(true, true, {64, 1518, 9000});
    s.eal_mem = {"--huge-dir", h.dir(), "-m", "128"};  // 64 pages: 64 regions without single-file segments
    if (single_file) s.eal_mem.push_back("--single-file-segments");
    s.count = 1000;
    EXPECT_CHILD_OK(run_pair_forked(s));
  }
  // Both given back: the pool as it was, the mount and its directory gone.
  EXPECT_EQ(Hugepages::read_nr(), before);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << dir << " left behind";
}
TEST(Loopback, HugepagesSingleFileSegments) { hugepage_run(true); }
TEST(Loopback, HugepagesOneFilePerPage) { hugepage_run(false); }

// Four queue pairs (multi-queue with the control queue): every queue pair
// carries its own verified traffic.
TEST(Loopback, SplitFourQueuePairs) {
  EXPECT_CHILD_OK(run_pair_forked(vnet::test::four_queue_pairs(ours(false, true, {64, 1518}))));
}
TEST(Loopback, PackedFourQueuePairs) {
  EXPECT_CHILD_OK(run_pair_forked(vnet::test::four_queue_pairs(ours(true, false, {64, 1518}))));
}
// DMA copies (dma_skeleton, every copy to DMA) on four queue pairs sharing one channel.
TEST(Loopback, PackedFourQueuePairsDma) {
  auto s = ours(true, true, {64, 1518, 9000});
  s.queues = 4;
  s.count = 400;
  EXPECT_CHILD_OK(run_pair_forked(vnet::test::with_dma(s, 0)));
}

// The frontend goes away in the middle of traffic and a new one comes: the
// backend raises link down and up (LSC), keeps no mbuf, and the new frontend
// passes verified traffic. Runs in a forked child (one EAL per process).
std::atomic<int> g_lsc{0};
int on_lsc(uint16_t, rte_eth_event_type, void*, void*) {
  g_lsc.fetch_add(1);
  return 0;
}

int reconnect_child(const std::string& dir) {
  using namespace vnet::test;
  const std::string sock = dir + "/vhost.sock";
  std::vector<std::string> args = {"test",     "--no-huge",
                                   "-m",       "512",
                                   "--no-pci", "-l",
                                   "0",        "--file-prefix=vnet-recon-" + std::to_string(::getpid()),
                                   "--vdev",   "net_vnet_vhost0,iface=" + sock + ",queues=1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  PAIR_CHECK(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "rte_eal_init");
  uint16_t pv, pu;
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_vnet_vhost0", &pv) == 0, "backend not probed");
  rte_mempool* mp = rte_pktmbuf_pool_create("recon", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  PAIR_CHECK(mp, "mempool");
  PAIR_CHECK(setup_port(pv, mp, false, 1) == 0, "backend set-up");
  rte_eth_dev_callback_register(pv, RTE_ETH_EVENT_INTR_LSC, on_lsc, nullptr);
  const std::string fe_args = "path=" + sock + ",packed_vq=1";
  for (int round = 0; round < 2; ++round) {
    PAIR_CHECK(rte_vdev_init("net_vnet_user0", fe_args.c_str()) == 0, "frontend probe, round %d", round);
    PAIR_CHECK(rte_eth_dev_get_port_by_name("net_vnet_user0", &pu) == 0, "frontend port");
    PAIR_CHECK(setup_port(pu, mp, false, 1) == 0, "frontend set-up");
    PAIR_CHECK(wait_link(pv, true, 5000), "backend link up, round %d", round);
    const auto a = exchange(pu, pv, mp, 1000, 1518, 128, 20.0);
    const auto b = exchange(pv, pu, mp, 1000, 64, 128, 20.0);
    PAIR_CHECK(a.ok(1000) && b.ok(1000), "round %d traffic: %lu/%lu and %lu/%lu", round, a.received, a.sent, b.received,
               b.sent);
    // Leave frames in flight both ways, then the frontend disappears.
    rte_mbuf* pkts[64];
    for (uint64_t i = 0; i < 64; ++i) pkts[i] = make_frame(mp, i, 256);
    const uint16_t k1 = rte_eth_tx_burst(pu, 0, pkts, 32);
    rte_pktmbuf_free_bulk(pkts + k1, 32 - k1);
    const uint16_t k2 = rte_eth_tx_burst(pv, 0, pkts + 32, 32);
    rte_pktmbuf_free_bulk(pkts + 32 + k2, 32 - k2);
    const int lsc_before = g_lsc.load();
    rte_eth_dev_stop(pu);
    rte_eth_dev_close(pu);
    PAIR_CHECK(rte_vdev_uninit("net_vnet_user0") == 0, "frontend remove");
    PAIR_CHECK(wait_link(pv, false, 5000), "backend link down after the frontend left");
    PAIR_CHECK(g_lsc.load() > lsc_before, "no LSC event on disconnect");
    // Whatever the backend still receives is drained; nothing is left in it.
    for (int i = 0; i < 10; ++i) {
      const uint16_t n = rte_eth_rx_burst(pv, 0, pkts, 64);
      rte_pktmbuf_free_bulk(pkts, n);
    }
    std::fprintf(stderr, "round %d: traffic ok, frontend left with frames in flight, link down, LSC events %d\n", round,
                 g_lsc.load());
  }
  rte_eth_dev_stop(pv);
  rte_eth_dev_close(pv);
  const unsigned avail = rte_mempool_avail_count(mp);
  PAIR_CHECK(avail == mp->size, "mempool: %u of %u mbufs back", avail, mp->size);
  rte_mempool_free(mp);
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_dir(runtime);
  return 0;
}

TEST(Loopback, FrontendLeavesMidTrafficAndANewOneComes) { EXPECT_CHILD_OK(vnet::test::forked_in_dir(reconnect_child)); }

}  // namespace
