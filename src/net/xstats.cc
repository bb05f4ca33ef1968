// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Extended statistics of a virtio-net port: per queue, the counters the
// bursts keep (packets, bytes, errors, drops, size buckets, multicast,
// broadcast, kicks) and the ring-protocol violations the virtqueue core
// counted (DrvErr). Names are rx_q<N>_<what> / tx_q<N>_<what>; the ring
// counters are not resettable in the ring, so reset keeps a baseline.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "net/xstats.h"

#include <cinttypes>
#include <cstdio>

#include "net/ethdev.h"
#include "net/queue.h"
#include "common/c_entry.h"

namespace vnet::net {

namespace {

struct Field {
  const char* name;
  uint64_t QueueStats::*m;
};
constexpr Field kFields[] = {
    {"packets", &QueueStats::packets},
    {"bytes", &QueueStats::bytes},
    {"errors", &QueueStats::errors},
    {"drops", &QueueStats::drops},
    {"multicast_packets", &QueueStats::multicast},
    {"broadcast_packets", &QueueStats::broadcast},
    {"kicks", &QueueStats::kicks},
};
// QueueStats::size_bins, in order (count_size() in queue.h).
constexpr const char* kBins[] = {"size_undersize_packets", "size_64_packets",      "size_65_127_packets",
                                 "size_128_255_packets",   "size_256_511_packets", "size_512_1023_packets",
                                 "size_1024_1518_packets", "size_1519_max_packets"};
static_assert(std::size(kBins) == std::size(QueueStats{}.size_bins));
// ring::DrvErr, in order.
constexpr const char* kRingErrs[] = {"ring_used_idx_jump_errors", "ring_used_id_out_of_range_errors",
                                     "ring_used_id_not_head_errors", "ring_used_len_too_long_errors"};
static_assert(std::size(kRingErrs) == static_cast<size_t>(ring::DrvErr::Count));

constexpr unsigned kPerQueue = std::size(kFields) + std::size(kBins) + std::size(kRingErrs);

const Port& port_of(const rte_eth_dev* dev) { return *static_cast<const Port*>(dev->data->dev_private); }

// Calls f(queue or nullptr, is_rx, queue index) for every queue slot.
template <class F>
void each_queue(const rte_eth_dev* dev, F&& f) {
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) f(static_cast<Queue*>(dev->data->rx_queues[i]), true, i);
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) f(static_cast<Queue*>(dev->data->tx_queues[i]), false, i);
}

unsigned count(const rte_eth_dev* dev) { return kPerQueue * (dev->data->nb_rx_queues + dev->data->nb_tx_queues); }

}  // namespace

int xstats_get_names(rte_eth_dev* dev, rte_eth_xstat_name* names, unsigned size) {
  const unsigned n = count(dev);
  if (!names || size < n) return static_cast<int>(n);
  unsigned k = 0;
  each_queue(dev, [&](const Queue*, bool rx, uint16_t i) {
    auto put = [&](const char* what) {
      snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s", rx ? "rx" : "tx", i, what);
    };
    for (const auto& f : kFields) put(f.name);
    for (const char* b : kBins) put(b);
    for (const char* e : kRingErrs) put(e);
  });
  return static_cast<int>(n);
}

int xstats_get(rte_eth_dev* dev, rte_eth_xstat* xs, unsigned size) {
  const unsigned n = count(dev);
  if (!xs || size < n) return static_cast<int>(n);
  const Port& p = port_of(dev);
  unsigned k = 0;
  each_queue(dev, [&](const Queue* q, bool, uint16_t) {
    auto put = [&](uint64_t v) {
      xs[k].id = k;
      xs[k].value = v;
      ++k;
    };
    const QueueStats st = q ? ring::counters_snapshot(q->st) : QueueStats{};  // the lcore keeps counting
    const auto errs = q && p.hdr_size ? ring::counters_snapshot(q->ring.errors()) : ring::ErrCounters<ring::DrvErr>{};
    for (const auto& f : kFields) put(st.*f.m);
    for (size_t b = 0; b < std::size(kBins); ++b) put(st.size_bins[b]);
    for (size_t e = 0; e < std::size(kRingErrs); ++e) {
      const auto err = static_cast<ring::DrvErr>(e);
      put(q && p.hdr_size ? errs[err] - q->ring_err_base[err] : 0);
    }
  });
  return static_cast<int>(n);
}

int xstats_reset(rte_eth_dev* dev) {
  const Port& p = port_of(dev);
  each_queue(dev, [&](Queue* q, bool, uint16_t) {
    if (!q) return;
    q->st = QueueStats{};
    if (p.hdr_size) q->ring_err_base = q->ring.errors();
  });
  dev->data->rx_mbuf_alloc_failed = 0;
  return 0;
}

void xstats_ops(eth_dev_ops& o) {
  o.xstats_get_names = c_entry<xstats_get_names>;
  o.xstats_get = c_entry<xstats_get>;
  o.xstats_reset = c_entry<xstats_reset>;
}

}  // namespace vnet::net
