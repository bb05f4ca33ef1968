// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// chaos_peer: one side of tests/chaos.py in an EAL process of its own, the
// backend (net_vnet_vhost, echoes every frame) or the frontend (net_vnet_user,
// client mode, sends verified frames, checks every echo); prints STATUS lines.
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fd_audit.h"
#include "traffic.h"
#include "vhost_pair.h"

namespace {

using vnet::test::check_frame;
using vnet::test::make_frame;

constexpr uint16_t kRing = 256;  // descriptors per queue, both sides
constexpr uint16_t kBurst = 32;
constexpr unsigned kPoolSize = 8191;  // mbufs; far more than both rings hold
constexpr uint32_t kMinLen = 64, kMaxLen = 1518;

std::atomic<bool> g_term{false};
std::atomic<uint64_t> g_lsc{0};  // LSC events raised by the driver (any thread)

void on_term(int) { g_term.store(true, std::memory_order_relaxed); }

int on_lsc(uint16_t, rte_eth_event_type, void*, void*) {
  g_lsc.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

struct Options {
  bool frontend = false;
  std::string sock, prefix;
  int cpu = 0;
  bool packed = true;
  unsigned period_us = 100;  // frontend: one burst of kBurst frames per period
};

void usage() {
  std::fprintf(stderr,
               "usage: chaos_peer --role backend|frontend --sock PATH --prefix NAME [--cpu N] "
               "[--ring split|packed] [--period-us N]\n");
}

bool parse(int argc, char** argv, Options* o) {
  bool role = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--role") {
      if (std::strcmp(v, "backend") && std::strcmp(v, "frontend")) return false;
      o->frontend = !std::strcmp(v, "frontend");
      role = true;
    } else if (a == "--sock") {
      o->sock = v;
    } else if (a == "--prefix") {
      o->prefix = v;
    } else if (a == "--cpu") {
      o->cpu = std::atoi(v);
    } else if (a == "--ring") {
      if (std::strcmp(v, "split") && std::strcmp(v, "packed")) return false;
      o->packed = !std::strcmp(v, "packed");
    } else if (a == "--period-us") {
      o->period_us = static_cast<unsigned>(std::atoi(v));
    } else {
      return false;
    }
  }
  return role && !o->sock.empty() && !o->prefix.empty() && o->cpu >= 0;
}

int setup_port(uint16_t port, rte_mempool* mp) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, kRing, SOCKET_ID_ANY, nullptr, mp);
  if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, kRing, SOCKET_ID_ANY, nullptr);
  if (rc == 0) rc = rte_eth_dev_callback_register(port, RTE_ETH_EVENT_INTR_LSC, on_lsc, nullptr);
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

bool link_is_up(uint16_t port) {
  rte_eth_link l{};
  rte_eth_link_get_nowait(port, &l);
  return l.link_status == RTE_ETH_LINK_UP;
}

// Counters of this side; one thread (the main lcore) writes and prints them.
struct Counts {
  uint64_t rx = 0;   // frames received that passed every check
  uint64_t tx = 0;   // frames the port's Tx burst accepted
  uint64_t bad = 0;  // frames that failed length/checksum (corruption)
  uint64_t dup = 0;  // frontend: an echo whose sequence number is not above the last one's
  uint64_t lost_tx =
      0;  // frames dropped here: built, then the link went down (frontend); echoes the Tx ring refused (backend)
};

uint32_t frame_len(uint64_t seq) { return kMinLen + static_cast<uint32_t>((seq * 7919) % (kMaxLen - kMinLen + 1)); }

void report_bad(const char* what, const rte_mbuf* m) {
  std::printf("CORRUPT %s pkt_len=%u nb_segs=%u data_len=%u head:", what, m->pkt_len, m->nb_segs, m->data_len);
  const auto* b = rte_pktmbuf_mtod(m, const uint8_t*);
  for (uint32_t j = 0; j < 32 && j < m->data_len; ++j) std::printf(" %02x", b[j]);
  std::printf("\n");
}

int run(const Options& o, const char* argv0) {
  const std::string lcores = std::to_string(o.cpu);
  std::vector<std::string> eal = {
      argv0, "--no-huge", "-m", "256", "--no-pci", "-l", lcores, "--file-prefix=" + o.prefix, "--log-level=notice"};
  std::vector<char*> eargv;
  for (auto& a : eal) eargv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eargv.size()), eargv.data()) < 0) {
    std::printf("RESULT FAILED rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const char* name = o.frontend ? "net_vnet_user0" : "net_vnet_vhost0";
  const std::string args = o.frontend ? "path=" + o.sock + ",packed_vq=" + (o.packed ? "1" : "0") : "iface=" + o.sock;
  // The frontend connects at probe (client mode, up to 3 s); the script
  // starts it once the backend listens, but a loaded machine gets a retry.
  int rc = -1;
  for (int attempt = 0; attempt < 5 && rc != 0 && !g_term; ++attempt) rc = rte_vdev_init(name, args.c_str());
  uint16_t port = 0;
  if (rc != 0 || rte_eth_dev_get_port_by_name(name, &port) != 0) {
    std::printf("RESULT FAILED %s,%s did not probe\n", name, args.c_str());
    rte_eal_cleanup();
    return 1;
  }
  rte_mempool* mp = rte_pktmbuf_pool_create(o.frontend ? "chaos_fe" : "chaos_be", kPoolSize, 64, 0,
                                            RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!mp || setup_port(port, mp) != 0) {
    std::printf("RESULT FAILED port set-up: %s\n", rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 1;
  }
  std::printf("READY role=%s port=%u pid=%d%s\n", o.frontend ? "frontend" : "backend", port, ::getpid(),
              o.frontend ? (o.packed ? " ring=packed" : " ring=split") : "");

  Counts c;
  uint64_t seq = 0;      // frontend: the next sequence number to send
  uint64_t last_rx = 0;  // frontend: highest sequence number echoed back, +1
  const uint64_t hz = rte_get_timer_hz();
  const uint64_t period = hz * o.period_us / 1000000, link_every = hz / 100, status_every = hz / 10;
  uint64_t next_tx = rte_get_timer_cycles(), next_link = 0, next_status = 0;
  bool up = false;
  uint64_t lsc_seen = 0;
  rte_mbuf* pkts[kBurst];
  rte_mbuf* pend[kBurst];  // frontend: built, not yet taken by the Tx ring
  uint16_t npend = 0;

  while (!g_term.load(std::memory_order_relaxed)) {
    uint64_t now = rte_get_timer_cycles();
    bool busy = false;
    if (o.frontend && now >= next_tx) {
      // Frames the Tx ring had no room for are sent first next time (their
      // numbers stay in order), so frames are built only as fast as they
      // go. While the link reads down they are freed: nothing of ours is
      // held then, and every mbuf in use is the driver's.
      while (up && npend < kBurst) {
        rte_mbuf* m = make_frame(mp, seq, frame_len(seq));
        if (!m) break;
        pend[npend++] = m;
        ++seq;
      }
      const uint16_t k = npend ? rte_eth_tx_burst(port, 0, pend, npend) : 0;
      std::memmove(pend, pend + k, (npend - k) * sizeof pend[0]);
      npend = static_cast<uint16_t>(npend - k);
      c.tx += k;
      next_tx = std::max(next_tx + period, now);  // no catching up after a stall
      busy = true;
    }
    for (;;) {
      const uint16_t n = rte_eth_rx_burst(port, 0, pkts, kBurst);
      if (n == 0) break;
      busy = true;
      uint16_t keep = 0;
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const uint64_t s = check_frame(m, m->pkt_len);
        if (s == UINT64_MAX || (o.frontend && s >= seq)) {
          if (c.bad++ < 5) report_bad(s == UINT64_MAX ? "payload" : "sequence-beyond-sent", m);
        } else if (o.frontend && s < last_rx) {
          if (c.dup++ < 5) std::printf("DUP seq=%lu after %lu\n", s, last_rx - 1);
        } else {
          ++c.rx;
          if (o.frontend) last_rx = s + 1;
        }
        if (o.frontend)
          rte_pktmbuf_free(m);
        else
          pkts[keep++] = m;  // the backend echoes everything, bad frames too: the frontend flags them again
      }
      if (!o.frontend && keep) {
        const uint16_t k = rte_eth_tx_burst(port, 0, pkts, keep);
        for (uint16_t i = k; i < keep; ++i) rte_pktmbuf_free(pkts[i]);
        c.tx += k;
        c.lost_tx += keep - k;
      }
      if (n < kBurst) break;
    }
    now = rte_get_timer_cycles();
    if (now >= next_link) {
      next_link = now + link_every;
      const bool u = link_is_up(port);
      const uint64_t lsc = g_lsc.load(std::memory_order_relaxed);
      if (u != up) {
        std::printf("%s\n", u ? "LINK-UP" : "LINK-DOWN");
      } else if (lsc >= lsc_seen + 2) {
        // A flap between two polls: the driver raised LSC twice or more
        // and the state reads the same. Report it as the two changes it was.
        std::printf("%s\n%s\n", u ? "LINK-DOWN" : "LINK-UP", u ? "LINK-UP" : "LINK-DOWN");
      }
      up = u;
      lsc_seen = lsc;
      if (!up && npend) {
        rte_pktmbuf_free_bulk(pend, npend);
        c.lost_tx += npend;
        npend = 0;
      }
    }
    if (now >= next_status) {
      next_status = now + status_every;
      // inuse: the pool's mbufs out of it. The application holds only the
      // `held` frames waiting for Tx room (none while the link reads down):
      // every other one in use is the driver's.
      // fds and maps: open fds and mappings, for the script to see that a
      // peer's departure gives back its fds and memory too.
      std::printf(
          "STATUS link=%d rx=%lu tx=%lu bad=%lu dup=%lu inuse=%u held=%u dropped=%lu lsc=%lu fds=%zu "
          "maps=%zu\n",
          up ? 1 : 0, c.rx, c.tx, c.bad, c.dup, rte_mempool_in_use_count(mp), npend, c.lost_tx, lsc_seen,
          vnet::test::open_fds_but_epoll(), vnet::test::count_maps(""));
    }
    if (!busy) ::usleep(20);  // idle: leave the shared cores to the rest of the machine
  }

  if (npend) rte_pktmbuf_free_bulk(pend, npend);
  std::printf("STOPPING rx=%lu tx=%lu bad=%lu dup=%lu inuse=%u\n", c.rx, c.tx, c.bad, c.dup,
              rte_mempool_in_use_count(mp));
  std::string why;
  if (rte_eth_dev_stop(port) != 0) why += " stop-failed";
  if (rte_eth_dev_close(port) != 0) why += " close-failed";
  rte_vdev_uninit(name);
  const unsigned avail = rte_mempool_avail_count(mp);
  if (avail != mp->size)
    why += " mempool:" + std::to_string(mp->size - avail) + "-of-" + std::to_string(mp->size) + "-mbufs-not-back";
  if (c.bad) why += " corrupt-frames:" + std::to_string(c.bad);
  if (c.dup) why += " duplicate-or-reordered:" + std::to_string(c.dup);
  if (c.rx == 0) why += " nothing-received";
  rte_mempool_free(mp);
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  vnet::test::remove_dir(runtime);  // EAL 22.11 leaves its runtime directory behind
  if (why.empty()) {
    std::printf("RESULT ok rx=%lu tx=%lu\n", c.rx, c.tx);
    return 0;
  }
  std::printf("RESULT FAILED%s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    usage();
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // A driver script that dies (ctest's timeout) takes its peers with it;
  // by SIGTERM, so that they still clean up after themselves.
  const pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) return 3;
  return run(o, argv[0]);
}
