// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Extended stats of a net_vnet_vhost port (xstats.h). Per queue (rx_qN_ /
// tx_qN_): traffic, copy engine and ring-protocol counters; then the port's
// vhost-user control counters. Gauges (in flight) ignore xstats_reset.
#include "vhost/xstats.h"

#include <cstdio>
#include <iterator>
#include <vector>

#include "vhost/async_queue.h"
#include "vhost/port.h"

namespace vnet::vhost {
namespace {

constexpr const char* kRingErrNames[] = {
    "avail_idx_jump",   "head_out_of_range", "next_out_of_range",       "chain_too_long",        "nested_indirect",
    "indirect_bad_len", "indirect_and_next", "indirect_not_negotiated", "len_overflow",          "bad_address",
    "read_after_write", "too_many_segs",     "packed_not_avail",        "packed_id_out_of_range"};
static_assert(std::size(kRingErrNames) == static_cast<size_t>(ring::DevErr::Count));

constexpr const char* kQueueNames[] = {
    "packets",    "bytes",     "errors",        "drops",      "nombuf",        "cpu_copies",       "cpu_bytes",
    "dma_copies", "dma_bytes", "dma_fallbacks", "dma_errors", "dma_abandoned", "dma_inflight_hwm", "dma_inflight"};
constexpr unsigned kGauges = 2;  // the last queue names are gauges (high-water mark, in flight)
constexpr unsigned kPerQueue = std::size(kQueueNames) + std::size(kRingErrNames);
constexpr const char* kPortNames[] = {"vhost_messages",    "vhost_bad_messages",  "vhost_unsupported", "vhost_connects",
                                      "vhost_disconnects", "vhost_memory_faults", "vhost_timeouts"};

unsigned xstats_count(const BackendPort* p) { return 2u * p->queue_pairs * kPerQueue + std::size(kPortNames); }

// Ring order in xstats: rx queues, then tx queues.
unsigned xstats_vring(const BackendPort* p, unsigned k) {
  return k < p->queue_pairs ? 2 * k + 1 : 2 * (k - p->queue_pairs);
}

bool xstats_is_gauge(unsigned i, unsigned total_queue_stats) {
  if (i >= total_queue_stats) return false;
  const unsigned j = i % kPerQueue;
  return j >= std::size(kQueueNames) - kGauges && j < std::size(kQueueNames);
}

// Packets in flight on a DMA queue its lcore keeps changing.
uint64_t in_flight_now(const AsyncQueue& q) {
  return static_cast<uint16_t>(ring::counters_snapshot(q.tail) - ring::counters_snapshot(q.pub));
}

void xstats_collect(const BackendPort* p, uint64_t* out) {
  p->server->with_control_held([&](const ServerStats& ss) {
    unsigned i = 0;
    for (unsigned k = 0; k < 2u * p->queue_pairs; ++k) {
      const Vring& v = p->vrings[xstats_vring(p, k)];
      // The lcores keep counting while we read (the control state is held).
      const VringStats st = ring::counters_snapshot(v.st);
      const CopyStats cs = ring::counters_snapshot(v.cs);
      const uint64_t q[] = {st.packets,      st.bytes,
                            st.bad_chains,   st.dropped,
                            st.nombuf,       cs.cpu_copies,
                            cs.cpu_bytes,    cs.dma_copies,
                            cs.dma_bytes,    cs.dma_fallbacks,
                            cs.dma_errors,   cs.dma_abandoned,
                            cs.inflight_hwm, v.aq ? in_flight_now(*v.aq) : 0u};
      static_assert(std::size(q) == std::size(kQueueNames));
      for (uint64_t x : q) out[i++] = x;
      const auto live = ring::counters_snapshot(v.dq.errors());
      for (size_t e = 0; e < std::size(kRingErrNames); ++e) out[i++] = v.ring_err_past.n[e] + live.n[e];
    }
    const uint64_t port_stats[] = {ss.messages,    ss.errors,     ss.unsupported, ss.connects,
                                   ss.disconnects, ss.mem_faults, ss.timeouts};
    static_assert(std::size(port_stats) == std::size(kPortNames));
    for (uint64_t x : port_stats) out[i++] = x;
  });
}

}  // namespace

int xstats_get_names(rte_eth_dev* dev, rte_eth_xstat_name* names, unsigned size) {
  const BackendPort* p = port_of(dev);
  const unsigned n = xstats_count(p);
  if (!names || size < n) return static_cast<int>(n);
  unsigned i = 0;
  for (unsigned k = 0; k < 2u * p->queue_pairs; ++k) {
    const bool rx = k < p->queue_pairs;
    const unsigned q = rx ? k : k - p->queue_pairs;
    for (const char* nm : kQueueNames)
      std::snprintf(names[i++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s", rx ? "rx" : "tx", q, nm);
    for (const char* nm : kRingErrNames)
      std::snprintf(names[i++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_ring_%s", rx ? "rx" : "tx", q, nm);
  }
  for (const char* nm : kPortNames) std::snprintf(names[i++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s", nm);
  return static_cast<int>(n);
}

int xstats_get(rte_eth_dev* dev, rte_eth_xstat* xs, unsigned size) {
  BackendPort* p = port_of(dev);
  const unsigned n = xstats_count(p);
  if (!xs || size < n) return static_cast<int>(n);
  std::vector<uint64_t> v(n);
  xstats_collect(p, v.data());
  const unsigned qstats = 2u * p->queue_pairs * kPerQueue;
  for (unsigned i = 0; i < n; ++i) {
    xs[i].id = i;
    const uint64_t base = (p->xbase.size() == n && !xstats_is_gauge(i, qstats)) ? p->xbase[i] : 0;
    xs[i].value = v[i] - base;
  }
  return static_cast<int>(n);
}

int xstats_reset(rte_eth_dev* dev) {
  BackendPort* p = port_of(dev);
  stats_reset(dev);  // the basic stats ethdev puts in front of ours reset too
  // As stats_reset: the data path owns the counters, reset records a baseline.
  p->xbase.assign(xstats_count(p), 0);
  xstats_collect(p, p->xbase.data());
  return 0;
}

}  // namespace vnet::vhost
