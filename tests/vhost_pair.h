// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// A virtio-user frontend (DPDK's net_virtio_user or our net_vnet_user) and
// our net_vnet_vhost backend in one EAL process, each scenario in a forked
// child (EAL initialises once per process). Frames go both ways on every
// queue pair, sequence-numbered and checksummed; counts reconcile exactly
// against what was sent and against the backend's own stats.
#pragma once

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "forked.h"
#include "traffic.h"

namespace vnet::test {

struct PairScenario {
  std::string frontend;  // driver name: "net_virtio_user" or "net_vnet_user"
  bool packed = false;
  bool mrg = true;
  std::vector<uint32_t> sizes;
  uint64_t count = 2000;     // frames per size, direction and queue (a quarter above 1518 B)
  bool to_backend = true;    // the frontend transmits, net_vnet_vhost receives
  bool from_backend = true;  // net_vnet_vhost transmits, the frontend receives
  uint16_t queues = 1;
  std::string backend_extra;                                      // appended to the backend's devargs (",dmas=...")
  std::string frontend_extra;                                     // appended to the frontend's devargs
  std::vector<std::string> eal_extra;                             // more EAL arguments (--vdev dma_skeleton0)
  std::vector<std::string> eal_mem = {"--no-huge", "-m", "512"};  // EAL memory (hugepage tests change it)
  bool expect_dma = false;     // every backend queue must have copied by DMA, as dma_plausible() says
  uint32_t dma_threshold = 0;  // with expect_dma: the backend's dma_threshold=
};

// Sum of the backend's xstats whose name ends with `suffix`, per queue direction.
inline uint64_t xstat_sum(uint16_t port, const char* prefix, const char* suffix) {
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n <= 0) return 0;
  std::vector<rte_eth_xstat_name> names(n);
  std::vector<rte_eth_xstat> vals(n);
  if (rte_eth_xstats_get_names(port, names.data(), n) != n || rte_eth_xstats_get(port, vals.data(), n) != n) return 0;
  uint64_t sum = 0;
  const size_t sl = std::strlen(suffix);
  for (int i = 0; i < n; ++i) {
    const std::string nm = names[i].name;
    if (nm.rfind(prefix, 0) == 0 && nm.size() >= sl && nm.compare(nm.size() - sl, sl, suffix) == 0)
      sum += vals[i].value;
  }
  return sum;
}

// The xstat called exactly `name` (-1 when the port has none).
inline int64_t xstat_named(uint16_t port, const std::string& name) {
  uint64_t id = 0, v = 0;
  if (rte_eth_xstats_get_id_by_name(port, name.c_str(), &id) != 0 || rte_eth_xstats_get_by_id(port, &id, &v, 1) != 1)
    return -1;
  return static_cast<int64_t>(v);
}

// One backend queue's copy counters (xstats prefix "rx_q0_"...) against the
// threshold: some copies went to the DMA engine and none failed; every
// payload byte was copied (some twice: a mergeable frame the ring ran out of
// buffers for is copied again when buffers come); no copy below the threshold went to
// DMA, and the frames below it (`small_bytes` of the queue's bytes) were
// copied by the CPU; and, unless the engine's ring was full at times (a
// fallback sends that copy to the CPU), no copy at or above it
// stayed on the CPU (threshold 0: no CPU copy at all). Prints the counters;
// false on a failure.
inline bool dma_plausible(uint16_t port, const std::string& q, uint32_t threshold, uint64_t small_bytes = 0) {
  auto x = [&](const char* n) { return xstat_named(port, q + n); };
  const int64_t bytes = x("bytes"), dc = x("dma_copies"), db = x("dma_bytes"), cc = x("cpu_copies"),
                cb = x("cpu_bytes"), fb = x("dma_fallbacks"), err = x("dma_errors");
  const int64_t t = threshold;
  const char* why = nullptr;
  if (bytes < 0 || dc < 0 || db < 0 || cc < 0 || cb < 0 || fb < 0 || err < 0)
    why = "xstats missing";
  else if (dc == 0)
    why = "no DMA copy";
  else if (err != 0)
    why = "DMA errors";
  else if (db + cb < bytes)
    why = "fewer bytes copied than the queue carried";
  else if (db < t * dc)
    why = "DMA copies below the threshold";
  else if (cb < static_cast<int64_t>(small_bytes))
    why = "frames below the threshold copied by DMA";
  else if (fb == 0 && cc > 0 && cb >= t * cc)
    why = "CPU copies at or above the threshold without a fallback";
  std::fprintf(stderr,
               "backend %s: bytes %ld; dma copies %ld (%ld B), cpu copies %ld (%ld B), fallbacks %ld, dma errors %ld; "
               "threshold %u -> %s%s\n",
               q.c_str(), bytes, dc, db, cc, cb, fb, err, threshold, why ? "FAILED: " : "ok", why ? why : "");
  return why == nullptr;
}

inline PairScenario scenario(const char* frontend, bool packed, bool mrg, std::vector<uint32_t> sizes,
                             std::string frontend_extra = {}) {
  PairScenario s;
  s.frontend = frontend;
  s.packed = packed;
  s.mrg = mrg;
  s.sizes = std::move(sizes);
  s.frontend_extra = std::move(frontend_extra);
  return s;
}

// Our backend's copies through dma_skeleton (one vchan shared by every
// queue: all run on one lcore). Threshold 0: every payload copy goes to DMA.
inline PairScenario with_dma(PairScenario s, uint32_t threshold) {
  // Appends, not operator+ chains: GCC 12 warns falsely (-Wrestrict) on those here.
  std::string map;
  for (uint16_t q = 0; q < s.queues; ++q)
    for (const char* dir : {"txq", "rxq"}) {
      if (!map.empty()) map += ';';
      map += dir;
      map += std::to_string(q);
      map += "@dma_skeleton0-0";
    }
  s.eal_extra = {"--vdev", "dma_skeleton0"};
  s.backend_extra = ",dmas=[";
  s.backend_extra += map;
  s.backend_extra += "],dma_threshold=";
  s.backend_extra += std::to_string(threshold);
  s.expect_dma = true;
  s.dma_threshold = threshold;
  return s;
}

// The four-queue-pair variant both suites run: 1000 frames per size, direction and queue.
inline PairScenario four_queue_pairs(PairScenario s) {
  s.queues = 4;
  s.count = 1000;
  return s;
}

// Wait up to `ms` for the port's link to read `up`.
inline bool wait_link(uint16_t port, bool up, int ms = 5000) {
  rte_eth_link l{};
  for (int i = 0; i < ms / 10; ++i) {
    rte_eth_link_get_nowait(port, &l);
    if ((l.link_status == RTE_ETH_LINK_UP) == up) return true;
    rte_delay_ms(10);
  }
  return false;
}

#define PAIR_CHECK(cond, ...)                     \
  do {                                            \
    if (!(cond)) {                                \
      std::fprintf(stderr, "FAILED %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);          \
      std::fprintf(stderr, "\n");                 \
      return 1;                                   \
    }                                             \
  } while (0)

// As PAIR_CHECK, but the scenario goes on: the failure is counted in `failed`.
#define PAIR_EXPECT(failed, cond, ...)            \
  do {                                            \
    if (!(cond)) {                                \
      std::fprintf(stderr, "FAILED %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);          \
      std::fprintf(stderr, "\n");                 \
      ++(failed);                                 \
    }                                             \
  } while (0)

// A 0700 directory for the socket and EAL's runtime files.
inline std::string private_dir() {
  for (const char* base : {"/run", "/var/tmp"}) {
    std::string t = std::string(base) + "/vnet-pair-XXXXXX";
    if (::mkdtemp(t.data())) {
      ::chmod(t.c_str(), 0700);
      return t;
    }
  }
  return {};
}

// Remove a directory and the files in it (EAL's runtime dir holds no subdirectories).
inline void remove_dir(const std::string& d) {
  if (DIR* dp = ::opendir(d.c_str())) {
    while (const dirent* e = ::readdir(dp))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ::unlink((d + "/" + e->d_name).c_str());
    ::closedir(dp);
  }
  ::rmdir(d.c_str());
}

inline int setup_port(uint16_t port, rte_mempool* mp, bool jumbo, uint16_t queues) {
  rte_eth_conf conf{};
  if (jumbo) {
    conf.rxmode.mtu = 9000;
    conf.rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER;
    conf.txmode.offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  }
  int rc = rte_eth_dev_configure(port, queues, queues, &conf);
  for (uint16_t q = 0; rc == 0 && q < queues; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, 256, SOCKET_ID_ANY, nullptr, mp);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, q, 256, SOCKET_ID_ANY, nullptr);
  }
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

// Frames of `len` bytes each queue carries each way (a quarter of the count above 1518 B).
inline uint64_t frames_per_queue(const PairScenario& s, uint32_t len) { return len > 1518 ? s.count / 4 : s.count; }

inline int run_pair(const PairScenario& s, const std::string& dir) {
  const std::string sock = dir + "/vhost.sock";
  const std::string prefix = "--file-prefix=vnet-pair-" + std::to_string(::getpid());
  const std::string qs = std::to_string(s.queues);
  const std::string fe_name = s.frontend + "0";
  const std::string vhost = "net_vnet_vhost0,iface=" + sock + ",queues=" + qs + s.backend_extra;
  const std::string user = fe_name + ",path=" + sock + ",queues=" + qs + ",packed_vq=" + (s.packed ? "1" : "0") +
                           ",mrg_rxbuf=" + (s.mrg ? "1" : "0") + s.frontend_extra;
  // The backend first: it must listen when the frontend connects at its own probe.
  std::vector<std::string> args = {"test", "--no-pci", "-l", "0", prefix};
  args.insert(args.end(), s.eal_mem.begin(), s.eal_mem.end());
  args.insert(args.end(), s.eal_extra.begin(), s.eal_extra.end());
  args.insert(args.end(), {"--vdev", vhost, "--vdev", user, "--log-level=pmd.net.vnet.vhost:info"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  PAIR_CHECK(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "rte_eal_init: %s",
             rte_strerror(rte_errno));

  uint16_t pv, pu;
  PAIR_CHECK(rte_eth_dev_get_port_by_name("net_vnet_vhost0", &pv) == 0, "net_vnet_vhost0 not probed");
  PAIR_CHECK(rte_eth_dev_get_port_by_name(fe_name.c_str(), &pu) == 0, "%s not probed", fe_name.c_str());
  rte_mempool* mp = rte_pktmbuf_pool_create("pair", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  PAIR_CHECK(mp, "mempool: %s", rte_strerror(rte_errno));
  bool jumbo = false;
  for (uint32_t sz : s.sizes) jumbo |= sz > 1518;
  PAIR_CHECK(setup_port(pv, mp, jumbo, s.queues) == 0, "set up net_vnet_vhost0");
  PAIR_CHECK(setup_port(pu, mp, jumbo, s.queues) == 0, "set up %s", fe_name.c_str());

  PAIR_CHECK(wait_link(pv, true), "backend link never came up");

  int failed = 0;
  for (uint32_t len : s.sizes) {
    const uint64_t n = frames_per_queue(s, len);
    for (int dir_to_backend = 1; dir_to_backend >= 0; --dir_to_backend) {
      if (!(dir_to_backend ? s.to_backend : s.from_backend)) continue;
      const uint16_t tx = dir_to_backend ? pu : pv, rx = dir_to_backend ? pv : pu;
      rte_eth_stats_reset(pv);
      bool ok = true;
      for (uint16_t q = 0; q < s.queues; ++q) {
        const auto r = exchange(tx, rx, mp, n, len, 128, 20.0, q);
        // Nothing more may arrive afterwards (no duplicates, no stray frames).
        rte_delay_ms(20);
        rte_mbuf* extra[32];
        const uint16_t late = rte_eth_rx_burst(rx, q, extra, 32);
        for (uint16_t i = 0; i < late; ++i) rte_pktmbuf_free(extra[i]);
        const bool q_ok = r.ok(n) && late == 0;
        std::fprintf(stderr, "%s %s mrg=%d q%u %5u B %s: sent %lu received %lu bad %lu dup %lu late %u -> %s\n",
                     s.frontend.c_str(), s.packed ? "packed" : "split", s.mrg, q, len,
                     dir_to_backend ? "frontend->vhost" : "vhost->frontend", r.sent, r.received, r.bad, r.dup, late,
                     q_ok ? "ok" : "FAILED");
        ok &= q_ok;
      }
      rte_eth_stats st{};
      rte_eth_stats_get(pv, &st);
      const uint64_t want = n * s.queues;
      const uint64_t backend_count = dir_to_backend ? st.ipackets : st.opackets;
      const uint64_t backend_bytes = dir_to_backend ? st.ibytes : st.obytes;
      const bool st_ok = backend_count == want && backend_bytes == want * len && st.ierrors == 0 && st.oerrors == 0;
      if (!st_ok)
        std::fprintf(stderr, "backend stats: count %lu bytes %lu (want %lu, %lu) ierr %lu oerr %lu -> FAILED\n",
                     backend_count, backend_bytes, want, want * len, st.ierrors, st.oerrors);
      failed += !(ok && st_ok);
    }
  }

  if (s.expect_dma) {
    uint64_t small = 0;  // per queue and direction: bytes in frames below the threshold
    for (uint32_t len : s.sizes)
      if (len < s.dma_threshold) small += frames_per_queue(s, len) * len;
    for (uint16_t q = 0; q < s.queues; ++q)
      for (const char* d : {"rx", "tx"})
        failed += !dma_plausible(pv, d + ("_q" + std::to_string(q)) + "_", s.dma_threshold, small);
  }

  // The frontend first: it talks to the backend while it stops.
  rte_eth_dev_stop(pu);
  rte_eth_dev_close(pu);
  rte_eth_dev_stop(pv);
  rte_eth_dev_close(pv);
  // Every mbuf is back in the pool: none leaked by either side.
  const unsigned avail = rte_mempool_avail_count(mp);
  if (avail != mp->size) {
    std::fprintf(stderr, "mempool: %u of %u mbufs back after close -> FAILED\n", avail, mp->size);
    ++failed;
  }
  rte_mempool_free(mp);
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_dir(runtime);  // EAL 22.11 leaves its runtime directory behind
  PAIR_CHECK(::access(sock.c_str(), F_OK) != 0, "socket %s left behind", sock.c_str());
  return failed;
}

// `body(dir)` in a forked child (SIGPIPE ignored) with a private directory
// for its socket; EXPECT_CHILD_OK takes the result.
inline ChildResult forked_in_dir(const std::function<int(const std::string&)>& body, unsigned timeout_s = 90) {
  const std::string dir = private_dir();
  if (dir.empty()) return ChildResult::not_run("no private directory under /run or /var/tmp");
  ChildResult r = run_forked(
      [&] {
        std::signal(SIGPIPE, SIG_IGN);
        return body(dir);
      },
      {timeout_s});
  ::rmdir(dir.c_str());
  return r;
}

// Run one scenario in a child process.
inline ChildResult run_pair_forked(const PairScenario& s, unsigned timeout_s = 90) {
  return forked_in_dir([&](const std::string& dir) { return run_pair(s, dir); }, timeout_s);
}

}  // namespace vnet::test
