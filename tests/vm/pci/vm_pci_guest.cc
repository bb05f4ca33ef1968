// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vnet-vm-pci-guest: runs inside the QEMU guest of the vm label with the
// net_vnet driver linked in whole. Drives the one PCI port the EAL probed
// (it must be net_vnet, not Debian's net_virtio) against a host backend that
// reflects every frame (dpdk-testpmd io forwarding, loop topology): sends
// sequence-numbered frames, receives them back verified, and prints both the
// traffic tally and the port's own counters on one VNET-PCI-RESULT line.
//
// usage: vnet-vm-pci-guest <EAL args> -- [--count N] [--lens 64,1514] [--window W] [--timeout S]
//                                         [--warmup N] [--queues Q] [--lsc 0|1] [--lsc-flaps 0|1]
// --queues: Q queue pairs (the PMD needs devarg queues=Q, the device mq=on,
// the host backend Q queues forwarding queue i back to queue i); every pair
// exchanges --count frames of each length on its own, and each queue's own
// counters must show exactly those frames.
// --lsc: after the traffic, print VNET-PCI-LSC-READY and wait for the host
// to take the link down and up again (QEMU's set_link): both changes must
// arrive as RTE_ETH_EVENT_INTR_LSC (the device's config-change interrupt).
// --lsc-flaps (with --lsc): then print VNET-PCI-FLAP-READY while the host
// toggles the link in a burst (changes landing at random points of the
// interrupt handling, also between its ISR read and the INTx unmask),
// pauses, then takes it down: the link as the interrupts last reported it
// must settle down (1 s without a change), VNET-PCI-FLAP-DOWN-SEEN, and come
// back up when the host raises it. An interrupt lost in the burst stops all
// later ones (the INTx line stays low with the device's cause pending), so
// the final changes are not seen.
// --warmup: N frames first whose losses are tolerated (a backend behind a
// vIOMMU drops frames while its IOTLB fills). Then VNET-PCI-WARM-DONE is
// printed and the program waits 5 s, so the host can snapshot its counters;
// the tally and the counters on the result line cover only what follows.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "traffic.h"

namespace {

struct Opts {
  uint64_t count = 2000;
  std::vector<uint32_t> lens = {64, 1514};
  uint32_t window = 64;
  double timeout = 60;
  uint64_t warmup = 0;
  bool lsc = false;
  bool lsc_flaps = false;
  uint16_t queues = 1;
};

std::atomic<int> g_lsc_events{0}, g_lsc_down{0}, g_lsc_up{0};

int on_lsc(uint16_t port, rte_eth_event_type, void*, void*) {
  rte_eth_link l{};
  rte_eth_link_get_nowait(port, &l);
  ++g_lsc_events;
  ++(l.link_status ? g_lsc_up : g_lsc_down);
  return 0;
}

// Wait up to s seconds for the link as the LSC interrupts last set it
// (rte_eth_link_get_nowait reads the cached status while intr_conf.lsc is on)
// to read `up` for hold_ms in a row.
bool wait_link_settled(uint16_t port, bool up, int hold_ms, int s) {
  int held = 0;
  for (int i = 0; i < s * 100; ++i) {
    rte_eth_link l{};
    rte_eth_link_get_nowait(port, &l);
    held = (l.link_status != 0) == up ? held + 10 : 0;
    if (held >= hold_ms) return true;
    rte_delay_ms(10);
  }
  return false;
}

// Wait up to s seconds for counter to reach want.
bool wait_for(const std::atomic<int>& counter, int want, int s) {
  for (int i = 0; i < s * 100 && counter.load() < want; ++i) rte_delay_ms(10);
  return counter.load() >= want;
}

bool parse(int argc, char** argv, Opts* o) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--count") {
      o->count = std::strtoull(v, nullptr, 0);
    } else if (a == "--window") {
      o->window = static_cast<uint32_t>(std::strtoul(v, nullptr, 0));
    } else if (a == "--lsc") {
      o->lsc = std::strtoul(v, nullptr, 0) != 0;
    } else if (a == "--lsc-flaps") {
      o->lsc_flaps = std::strtoul(v, nullptr, 0) != 0;
    } else if (a == "--queues") {
      o->queues = static_cast<uint16_t>(std::strtoul(v, nullptr, 0));
    } else if (a == "--warmup") {
      o->warmup = std::strtoull(v, nullptr, 0);
    } else if (a == "--timeout") {
      o->timeout = std::strtod(v, nullptr);
    } else if (a == "--lens") {
      o->lens.clear();
      for (char* s = const_cast<char*>(v); *s;) {
        char* end = nullptr;
        o->lens.push_back(static_cast<uint32_t>(std::strtoul(s, &end, 0)));
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) return false;
      }
    } else {
      return false;
    }
  }
  return o->count > 0 && o->window > 0 && !o->lens.empty() && o->queues >= 1 &&
         o->queues <= RTE_ETHDEV_QUEUE_STAT_CNTRS && (o->lsc || !o->lsc_flaps);
}

}  // namespace

int main(int argc, char** argv) {
  const int used = rte_eal_init(argc, argv);
  if (used < 0) {
    std::fprintf(stderr, "guest: EAL init failed: %s\n", rte_strerror(rte_errno));
    return 2;
  }
  Opts o;
  if (!parse(argc - used - 1, argv + used + 1, &o)) {
    std::fprintf(stderr, "guest: bad arguments after --\n");
    return 2;
  }
  if (rte_eth_dev_count_avail() != 1) {
    std::fprintf(stderr, "guest: %u ports probed, want exactly the one -a names\n", rte_eth_dev_count_avail());
    return 3;
  }
  const uint16_t port = 0;
  rte_eth_dev_info info{};
  rte_eth_dev_info_get(port, &info);
  std::printf("guest: port %u driver %s (%s)\n", port, info.driver_name, rte_dev_name(info.device));
  if (std::strcmp(info.driver_name, "net_vnet") != 0) {
    std::fprintf(stderr, "guest: the port is driven by %s, not net_vnet\n", info.driver_name);
    return 3;
  }
  rte_mempool* mp = rte_pktmbuf_pool_create("guest", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  rte_eth_conf conf{};
  const bool lsc_intr = *info.dev_flags & RTE_ETH_DEV_INTR_LSC;
  if (o.lsc) {
    if (!lsc_intr) {
      std::fprintf(stderr, "guest: --lsc 1 but the port has no link-state interrupt\n");
      return 3;
    }
    conf.intr_conf.lsc = 1;
    rte_eth_dev_callback_register(port, RTE_ETH_EVENT_INTR_LSC, on_lsc, nullptr);
  }
  if (info.max_rx_queues < o.queues) {
    std::fprintf(stderr, "guest: --queues %u but the port offers %u queue pairs\n", o.queues, info.max_rx_queues);
    return 3;
  }
  int rc = mp ? rte_eth_dev_configure(port, o.queues, o.queues, &conf) : -ENOMEM;
  for (uint16_t q = 0; rc == 0 && q < o.queues; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, 0, SOCKET_ID_ANY, nullptr, mp);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, q, 0, SOCKET_ID_ANY, nullptr);
  }
  if (rc == 0) rc = rte_eth_dev_start(port);
  if (rc != 0) {
    std::fprintf(stderr, "guest: port set-up failed: %s\n", rte_strerror(-rc));
    return 4;
  }
  rte_eth_link link{};
  for (int i = 0; i < 100 && !link.link_status; ++i) {
    rte_eth_link_get_nowait(port, &link);
    if (!link.link_status) rte_delay_ms(100);
  }
  std::printf("guest: link %s\n", link.link_status ? "up" : "down");

  if (o.warmup) {
    // Bursts of 32, each followed by a short drain, regardless of losses:
    // enough of them cycle every Rx buffer and the Tx mbufs the counted
    // phases will use through the backend's translations.
    uint64_t sent = 0, got = 0;
    rte_mbuf* pkts[32];
    while (sent < o.warmup) {
      uint16_t n = 0;
      for (; n < 32; ++n)
        if (!(pkts[n] = vnet::test::make_frame(mp, UINT32_MAX, 1514))) break;
      const uint16_t k = rte_eth_tx_burst(port, 0, pkts, n);
      for (uint16_t i = k; i < n; ++i) rte_pktmbuf_free(pkts[i]);
      sent += k ? k : 1;  // a full ring still counts, so this ends
      for (int t = 0; t < 20; ++t) {
        const uint16_t r = rte_eth_rx_burst(port, 0, pkts, 32);
        for (uint16_t i = 0; i < r; ++i) rte_pktmbuf_free(pkts[i]);
        got += r;
        rte_delay_ms(1);
      }
    }
    for (int t = 0; t < 500; ++t) {  // stragglers arrive now, not in the counted phases
      const uint16_t r = rte_eth_rx_burst(port, 0, pkts, 32);
      for (uint16_t i = 0; i < r; ++i) rte_pktmbuf_free(pkts[i]);
      got += r;
      rte_delay_ms(2);
    }
    std::printf("guest: warm-up: sent %" PRIu64 " received %" PRIu64 " (losses tolerated)\n", sent, got);
    std::printf("VNET-PCI-WARM-DONE\n");
    std::fflush(stdout);
    rte_delay_ms(5000);
  }
  rte_eth_stats st0{};
  rte_eth_stats_get(port, &st0);
  vnet::test::TrafficResult total;
  uint64_t want = 0;
  bool ok = link.link_status;
  for (uint16_t q = 0; q < o.queues; ++q)
    for (uint32_t len : o.lens) {
      const auto r = vnet::test::exchange(port, port, mp, o.count, len, o.window, o.timeout, q);
      std::printf("guest: queue %u: %u-byte frames: sent %" PRIu64 " received %" PRIu64 " bad %" PRIu64 " dup %" PRIu64
                  "\n",
                  q, len, r.sent, r.received, r.bad, r.dup);
      ok = ok && r.ok(o.count);
      total.sent += r.sent;
      total.received += r.received;
      total.bad += r.bad;
      total.dup += r.dup;
      want += o.count;
    }
  rte_eth_stats st{};
  rte_eth_stats_get(port, &st);
  // Each pair carried its own frames and only those: its counters moved by
  // exactly count x lengths both ways.
  const uint64_t per_queue = o.count * o.lens.size();
  for (uint16_t q = 0; q < o.queues; ++q) {
    const uint64_t qtx = st.q_opackets[q] - st0.q_opackets[q], qrx = st.q_ipackets[q] - st0.q_ipackets[q];
    std::printf("guest: queue %u counters: tx %" PRIu64 " pkts %" PRIu64 " B, rx %" PRIu64 " pkts %" PRIu64 " B\n", q,
                qtx, st.q_obytes[q] - st0.q_obytes[q], qrx, st.q_ibytes[q] - st0.q_ibytes[q]);
    if (qtx != per_queue || qrx != per_queue) {
      std::printf("guest: queue %u moved tx %" PRIu64 " / rx %" PRIu64 " frames, want %" PRIu64 " each\n", q, qtx, qrx,
                  per_queue);
      ok = false;
    }
  }
  if (o.lsc) {
    const int base_down = g_lsc_down.load(), base_up = g_lsc_up.load();
    std::printf("VNET-PCI-LSC-READY\n");
    std::fflush(stdout);
    const bool down = wait_for(g_lsc_down, base_down + 1, 90);
    rte_eth_link_get_nowait(port, &link);
    std::printf("VNET-PCI-LSC-DOWN-SEEN %d link %s\n", down ? 1 : 0, link.link_status ? "up" : "down");
    std::fflush(stdout);
    const bool up = down && wait_for(g_lsc_up, base_up + 1, 90);
    rte_eth_link_get_nowait(port, &link);
    std::printf("guest: link-state interrupts: %d events (down %d, up %d), link now %s\n", g_lsc_events.load(),
                g_lsc_down.load(), g_lsc_up.load(), link.link_status ? "up" : "down");
    ok = ok && down && up && link.link_status;
    if (o.lsc_flaps) {
      const int before = g_lsc_events.load();
      std::printf("VNET-PCI-FLAP-READY\n");
      std::fflush(stdout);
      const bool fdown = wait_link_settled(port, false, 1000, 120);
      std::printf("VNET-PCI-FLAP-DOWN-SEEN %d\n", fdown ? 1 : 0);
      std::fflush(stdout);
      const bool fup = fdown && wait_link_settled(port, true, 0, 90);
      std::printf("guest: link flaps: %d link-state interrupts, final down %s, final up %s\n",
                  g_lsc_events.load() - before, fdown ? "seen" : "NOT seen", fup ? "seen" : "NOT seen");
      ok = ok && fdown && fup;
    }
  }
  st.opackets -= st0.opackets;
  st.obytes -= st0.obytes;
  st.ipackets -= st0.ipackets;
  st.ibytes -= st0.ibytes;
  st.ierrors -= st0.ierrors;
  st.oerrors -= st0.oerrors;
  std::printf("VNET-PCI-RESULT sent=%" PRIu64 " received=%" PRIu64 " bad=%" PRIu64 " dup=%" PRIu64 " tx_pkts=%" PRIu64
              " tx_bytes=%" PRIu64 " rx_pkts=%" PRIu64 " rx_bytes=%" PRIu64 " rx_errors=%" PRIu64 " tx_errors=%" PRIu64
              " ok=%d\n",
              total.sent, total.received, total.bad, total.dup, st.opackets, st.obytes, st.ipackets, st.ibytes,
              st.ierrors, st.oerrors, ok ? 1 : 0);
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  rte_eal_cleanup();
  return ok && total.ok(want) ? 0 : 1;
}
