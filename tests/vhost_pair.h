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
  bool expect_dma = false;  // every backend queue must have copied by DMA, without DMA errors
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
    const uint64_t n = len > 1518 ? s.count / 4 : s.count;
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
    for (const char* side : {"rx_", "tx_"}) {
      const uint64_t copies = xstat_sum(pv, side, "_dma_copies"), errs = xstat_sum(pv, side, "_dma_errors");
      std::fprintf(stderr, "backend %sq*: dma copies %lu, cpu copies %lu, dma errors %lu, fallbacks %lu\n", side,
                   copies, xstat_sum(pv, side, "_cpu_copies"), errs, xstat_sum(pv, side, "_dma_fallbacks"));
      if (copies == 0 || errs != 0) ++failed;
    }
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

// Run one scenario in a child process; returns its exit status.
inline int run_pair_forked(const PairScenario& s, unsigned timeout_s = 90) {
  const std::string dir = private_dir();
  if (dir.empty()) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGPIPE, SIG_IGN);
    ::alarm(timeout_s);  // a hung scenario fails instead of blocking the suite
    ::_exit(run_pair(s, dir));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::rmdir(dir.c_str());
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace vnet::test
