// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// net_vnet_vhost: the built-in vhost-user backend as a DPDK ethdev (vdev).
// Rx queue i drains the frontend's transmit vring 2i+1, Tx queue i fills its
// receive vring 2i. Invariants: the queue objects are the Vrings themselves
// and live until dev_close; a frontend that goes away frees nothing a burst
// could touch; bursts only enter()/leave() their ring (and, for rings with a
// DMA channel, take that channel's flag). The dmadevs named in `dmas=` are
// configured and started at probe and stopped at close.
#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_dmadev.h>
#include <rte_ether.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "vnet/rte_pmd_vnet_vhost.h"
#include "vhost/datapath.h"
#include "vhost/log.h"
#include "vhost/rarp.h"
#include "vhost/vhost_user_server.h"

namespace vnet::vhost {
namespace {

constexpr const char* kArgIface = "iface";
constexpr const char* kArgQueues = "queues";
constexpr const char* kArgClient = "client";
constexpr const char* kArgDmas = "dmas";
constexpr const char* kArgDmaThreshold = "dma_threshold";
constexpr const char* kArgMaxMem = "max_mem_mb";
constexpr const char* const kValidArgs[] = {kArgIface,        kArgQueues, kArgClient, kArgDmas,
                                            kArgDmaThreshold, kArgMaxMem, nullptr};

// Copies at least this long go to the DMA engine unless dma_threshold= says
// otherwise: below ~1 KiB a CPU copy of cache-hot data costs less than
// submitting and completing a DMA op (benchmarks/dma_bench.cc, README).
constexpr uint32_t kDefaultDmaThreshold = 1024;
constexpr uint16_t kDmaRingSize = 1024;  // descriptors per vchan (clamped to the device's range)

// dmadevs a closed port of ours configured and stopped: configured, yet free
// for the next port (anything else already configured is someone's).
std::mutex g_dma_mu;
std::vector<int16_t> g_dma_released;

// One `dmas=` entry: queue (direction, index) -> dmadev vchan.
struct DmaSpec {
  bool tx;  // txq: fills the frontend's receive ring (enqueue); rxq: drains its transmit ring
  unsigned queue;
  int16_t dev;
  uint16_t vchan;
};

struct Port {
  rte_eth_dev* dev = nullptr;
  uint16_t queue_pairs = 1;
  int socket = SOCKET_ID_ANY;  // NUMA node of the rings and their DMA state
  Vring* vrings = nullptr;     // 2 * queue_pairs: the queue objects of the ethdev
  Server* server = nullptr;
  VringStats base[2 * kMaxQueuePairs];  // counters at the last stats_reset
  DmaChan chans[2 * kMaxQueuePairs];    // distinct (dmadev, vchan) pairs in use
  unsigned nchans = 0;
  std::vector<int16_t> dma_devs;  // started by us, stopped at close
  std::vector<uint64_t> xbase;    // xstats at the last xstats_reset
};

// dev_private holds only a pointer: the port has C++ members and stays in
// process-private memory.
struct Priv {
  Port* port;
};

Port* port_of(rte_eth_dev* dev) { return static_cast<Priv*>(dev->data->dev_private)->port; }

// Rx and Tx alike: run the ring's burst if the ring is usable. A ring with
// a DMA channel runs under the channel's flag (taken before enter(), so that
// every enter() of the channel's rings is serialised by it) and then
// publishes what completed for the channel's other rings: their frontends
// see those frames even when only this queue is being polled.
uint16_t eth_burst(void* q, rte_mbuf** pkts, uint16_t n) {
  Vring& v = *static_cast<Vring*>(q);
  if (!v.aq) {
    if (!enter(v)) return 0;
    const uint16_t r = v.burst(v, pkts, n);
    leave(v);
    return r;
  }
  DmaChan& ch = *v.aq->ch;
  if (!ch.try_lock()) return 0;  // the control thread drains it, or another lcore uses it
  uint16_t r = 0;
  if (enter(v)) {
    r = v.burst(v, pkts, n);
    leave(v);
  } else {
    dma_poll<RteDmaApi>(ch);
  }
  if (ch.nrings > 1) drive_channel(ch, &v);
  ch.unlock();
  return r;
}

// Rx: after the burst, on queue 0, a RARP announcement when the frontend
// asked for one (SEND_RARP), as if the frontend had sent it.
uint16_t eth_rx_burst(void* q, rte_mbuf** pkts, uint16_t n) {
  uint16_t r = eth_burst(q, pkts, n);
  Vring& v = *static_cast<Vring*>(q);
  uint8_t mac[6];
  if (v.rarp && r < n && v.mp && v.rarp->take(mac)) {
    rte_mbuf* m = rte_pktmbuf_alloc(v.mp);
    if (!m) {
      VHOST_LOG(ERR, "port %u: no mbuf for the RARP announcement", v.port_id);
      return r;
    }
    build_rarp(rte_pktmbuf_mtod(m, uint8_t*), mac);
    m->data_len = static_cast<uint16_t>(kRarpFrameLen);
    m->pkt_len = kRarpFrameLen;
    m->port = v.port_id;
    pkts[r++] = m;
    VHOST_LOG(INFO, "port %u: RARP announcement for %02x:%02x:%02x:%02x:%02x:%02x", v.port_id, mac[0], mac[1], mac[2],
              mac[3], mac[4], mac[5]);
  }
  return r;
}

// rte_eth_tx_done_cleanup(): publish completed copies without sending.
int tx_done_cleanup(void* q, uint32_t) {
  eth_burst(q, nullptr, 0);
  return 0;
}

void on_link(void* ctx, bool up) {
  Port* p = static_cast<Port*>(ctx);
  rte_eth_link link;
  rte_eth_linkstatus_get(p->dev, &link);  // atomic: link_update() may store it from another thread
  link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  rte_eth_linkstatus_set(p->dev, &link);
  rte_eth_dev_callback_process(p->dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
}

int dev_configure(rte_eth_dev*) { return 0; }

int dev_infos_get(rte_eth_dev* dev, rte_eth_dev_info* info) {
  const Port* p = port_of(dev);
  info->max_mac_addrs = 1;
  info->max_rx_queues = p->queue_pairs;
  info->max_tx_queues = p->queue_pairs;
  info->max_rx_pktlen = kMaxFrame;
  info->min_mtu = RTE_ETHER_MIN_MTU;
  info->max_mtu = kMaxFrame - RTE_ETHER_HDR_LEN;
  info->min_rx_bufsize = 0;
  info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER;
  info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  info->speed_capa = RTE_ETH_LINK_SPEED_10G;
  return 0;
}

int rx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t, unsigned int, const rte_eth_rxconf*, rte_mempool* mp) {
  Port* p = port_of(dev);
  if (qid >= p->queue_pairs || !mp) return -EINVAL;
  dev->data->rx_queues[qid] = &p->vrings[2 * qid + 1];
  p->server->attach(2u * qid + 1, mp, true);
  return 0;
}

int tx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t, unsigned int, const rte_eth_txconf*) {
  Port* p = port_of(dev);
  if (qid >= p->queue_pairs) return -EINVAL;
  dev->data->tx_queues[qid] = &p->vrings[2 * qid];
  p->server->attach(2u * qid, nullptr, true);
  return 0;
}

void rx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  Port* p = port_of(dev);
  if (p && qid < p->queue_pairs) p->server->attach(2u * qid + 1, nullptr, false);
}

void tx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  Port* p = port_of(dev);
  if (p && qid < p->queue_pairs) p->server->attach(2u * qid, nullptr, false);
}

int dev_start(rte_eth_dev* dev) {
  ring::asym_fence_enable();  // before the first burst (enter())
  port_of(dev)->server->set_started(true);
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
  return 0;
}

int dev_stop(rte_eth_dev* dev) {
  port_of(dev)->server->set_started(false);  // waits until no burst is inside a ring
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
  return 0;
}

void destroy(Port* p) {
  if (!p) return;
  if (p->server) {
    p->server->stop();  // every ring quiesced: no copy in flight any more
    delete p->server;
  }
  for (int16_t d : p->dma_devs) {
    rte_dma_stop(d);
    std::lock_guard<std::mutex> g(g_dma_mu);
    g_dma_released.push_back(d);
  }
  for (unsigned i = 0; i < p->nchans; ++i) rte_free(p->chans[i].tag);
  if (p->vrings)
    for (unsigned i = 0; i < 2u * p->queue_pairs; ++i) destroy_async_queue(p->vrings[i].aq);
  destroy_vrings(p->vrings, 2u * p->queue_pairs);
  delete p;
}

int dev_close(rte_eth_dev* dev) {
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) return 0;
  Port* p = port_of(dev);
  if (!p) return 0;
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queues[i] = nullptr;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queues[i] = nullptr;
  static_cast<Priv*>(dev->data->dev_private)->port = nullptr;
  destroy(p);
  return 0;
}

int link_update(rte_eth_dev* dev, int) {
  rte_eth_link link;
  rte_eth_linkstatus_get(dev, &link);  // atomic: the control thread's on_link() may store it
  link.link_status = port_of(dev)->server->link_up() ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  return rte_eth_linkstatus_set(dev, &link);
}

VringStats diff(const VringStats& a, const VringStats& b) {
  return VringStats{a.packets - b.packets, a.bytes - b.bytes, a.dropped - b.dropped, a.nombuf - b.nombuf,
                    a.bad_chains - b.bad_chains};
}

int stats_get(rte_eth_dev* dev, rte_eth_stats* s) {
  Port* p = port_of(dev);
  for (uint16_t i = 0; i < p->queue_pairs; ++i) {
    // The lcores keep counting while we read.
    const VringStats rx = diff(ring::counters_snapshot(p->vrings[2 * i + 1].st), p->base[2 * i + 1]);
    const VringStats tx = diff(ring::counters_snapshot(p->vrings[2 * i].st), p->base[2 * i]);
    s->ipackets += rx.packets;
    s->ibytes += rx.bytes;
    s->ierrors += rx.dropped;
    s->rx_nombuf += rx.nombuf;
    s->opackets += tx.packets;
    s->obytes += tx.bytes;
    s->oerrors += tx.dropped;
    if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      s->q_ipackets[i] = rx.packets;
      s->q_ibytes[i] = rx.bytes;
      s->q_errors[i] = rx.dropped;
      s->q_opackets[i] = tx.packets;
      s->q_obytes[i] = tx.bytes;
    }
  }
  return 0;
}

int stats_reset(rte_eth_dev* dev) {
  Port* p = port_of(dev);
  // The data path owns the counters; reset records a baseline instead of writing them.
  for (unsigned i = 0; i < 2u * p->queue_pairs; ++i) p->base[i] = p->vrings[i].st;
  return 0;
}

int accept_op(rte_eth_dev*) { return 0; }
int mtu_set(rte_eth_dev* dev, uint16_t mtu) {
  if (mtu < RTE_ETHER_MIN_MTU || mtu > kMaxFrame - RTE_ETHER_HDR_LEN) {
    VHOST_LOG(ERR, "%s: MTU %u outside %u..%u", dev->data->name, mtu, RTE_ETHER_MIN_MTU, kMaxFrame - RTE_ETHER_HDR_LEN);
    return -EINVAL;
  }
  return 0;
}

// ---- xstats ------------------------------------------------------------------
// Per queue (rx_qN_ / tx_qN_): traffic, copy engine and ring-protocol
// counters; then the port's vhost-user control counters. Gauges (in flight)
// are not affected by xstats_reset.

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

unsigned xstats_count(const Port* p) { return 2u * p->queue_pairs * kPerQueue + std::size(kPortNames); }

// Ring order in xstats: rx queues, then tx queues.
unsigned xstats_vring(const Port* p, unsigned k) { return k < p->queue_pairs ? 2 * k + 1 : 2 * (k - p->queue_pairs); }

bool xstats_is_gauge(unsigned i, unsigned total_queue_stats) {
  if (i >= total_queue_stats) return false;
  const unsigned j = i % kPerQueue;
  return j >= std::size(kQueueNames) - kGauges && j < std::size(kQueueNames);
}

// Packets in flight on a DMA queue its lcore keeps changing.
uint64_t in_flight_now(const AsyncQueue& q) {
  return static_cast<uint16_t>(ring::counters_snapshot(q.tail) - ring::counters_snapshot(q.pub));
}

void xstats_collect(const Port* p, uint64_t* out) {
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

int xstats_get_names(rte_eth_dev* dev, rte_eth_xstat_name* names, unsigned size) {
  const Port* p = port_of(dev);
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
  Port* p = port_of(dev);
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
  Port* p = port_of(dev);
  stats_reset(dev);  // the basic stats ethdev puts in front of ours reset too
  // As stats_reset: the data path owns the counters, reset records a baseline.
  p->xbase.assign(xstats_count(p), 0);
  xstats_collect(p, p->xbase.data());
  return 0;
}

const eth_dev_ops kOps = [] {
  eth_dev_ops o{};
  o.dev_configure = dev_configure;
  o.dev_start = dev_start;
  o.dev_stop = dev_stop;
  o.dev_close = dev_close;
  o.promiscuous_enable = accept_op;
  o.promiscuous_disable = accept_op;
  o.allmulticast_enable = accept_op;
  o.allmulticast_disable = accept_op;
  o.link_update = link_update;
  o.stats_get = stats_get;
  o.stats_reset = stats_reset;
  o.dev_infos_get = dev_infos_get;
  o.mtu_set = mtu_set;
  o.tx_done_cleanup = tx_done_cleanup;
  o.xstats_get = xstats_get;
  o.xstats_get_names = xstats_get_names;
  o.xstats_reset = xstats_reset;
  o.rx_queue_setup = rx_queue_setup;
  o.rx_queue_release = rx_queue_release;
  o.tx_queue_setup = tx_queue_setup;
  o.tx_queue_release = tx_queue_release;
  return o;
}();

struct Args {
  std::string iface;
  long queues = 1;
  long client = 0;
  std::string dmas;
  long dma_threshold = kDefaultDmaThreshold;
  long max_mem_mb = static_cast<long>(GuestMemory::kDefaultLimit >> 20);
};

int parse_long(const char*, const char* value, void* out) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value, &end, 10);
  if (errno || end == value || *end) return -EINVAL;
  *static_cast<long*>(out) = v;
  return 0;
}

int parse_str(const char*, const char* value, void* out) {
  *static_cast<std::string*>(out) = value;
  return 0;
}

int parse_args(const char* name, const char* params, Args& a) {
  rte_kvargs* kv = rte_kvargs_parse(params ? params : "", kValidArgs);
  if (!kv) {
    VHOST_LOG(ERR, "%s: cannot parse arguments '%s'", name, params ? params : "");
    return -EINVAL;
  }
  int rc = 0;
  if (rte_kvargs_count(kv, kArgIface) != 1) {
    VHOST_LOG(ERR, "%s: exactly one iface=<socket path> is required", name);
    rc = -EINVAL;
  }
  if (rc == 0) rc = rte_kvargs_process(kv, kArgIface, parse_str, &a.iface);
  if (rc == 0 && rte_kvargs_count(kv, kArgQueues)) rc = rte_kvargs_process(kv, kArgQueues, parse_long, &a.queues);
  if (rc == 0 && rte_kvargs_count(kv, kArgClient)) rc = rte_kvargs_process(kv, kArgClient, parse_long, &a.client);
  if (rc == 0 && rte_kvargs_count(kv, kArgDmas)) rc = rte_kvargs_process(kv, kArgDmas, parse_str, &a.dmas);
  if (rc == 0 && rte_kvargs_count(kv, kArgDmaThreshold))
    rc = rte_kvargs_process(kv, kArgDmaThreshold, parse_long, &a.dma_threshold);
  if (rc == 0 && rte_kvargs_count(kv, kArgMaxMem)) rc = rte_kvargs_process(kv, kArgMaxMem, parse_long, &a.max_mem_mb);
  rte_kvargs_free(kv);
  if (rc == 0 && (a.max_mem_mb < 1 || a.max_mem_mb > (1L << 30))) {
    VHOST_LOG(ERR, "%s: max_mem_mb=%ld must be 1..%ld MiB", name, a.max_mem_mb, 1L << 30);
    rc = -EINVAL;
  }
  if (rc == 0 && (a.queues < 1 || a.queues > kMaxQueuePairs)) {
    VHOST_LOG(ERR, "%s: queues=%ld out of range 1..%u", name, a.queues, kMaxQueuePairs);
    rc = -EINVAL;
  }
  if (rc == 0 && a.client != 0 && a.client != 1) {
    VHOST_LOG(ERR, "%s: client=%ld must be 0 or 1", name, a.client);
    rc = -EINVAL;
  }
  if (rc == 0 && (a.dma_threshold < 0 || a.dma_threshold > UINT32_MAX)) {
    VHOST_LOG(ERR, "%s: dma_threshold=%ld must be 0..%u bytes", name, a.dma_threshold, UINT32_MAX);
    rc = -EINVAL;
  }
  return rc < 0 ? rc : (rc > 0 ? -EINVAL : 0);
}

// `dmas=[txq0@dma_skeleton0-0;rxq0@3-0]`: queue@<dmadev name or id>-<vchan>,
// separated by ';' (or ','). The vchan is after the last '-'.
int parse_dmas(const char* name, std::string list, unsigned queue_pairs, std::vector<DmaSpec>& out) {
  if (!list.empty() && list.front() == '[') list.erase(0, 1);
  if (!list.empty() && list.back() == ']') list.pop_back();
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find_first_of(";,", pos);
    if (end == std::string::npos) end = list.size();
    const std::string e = list.substr(pos, end - pos);
    pos = end + 1;
    if (e.empty()) continue;
    const size_t at = e.find('@'), dash = e.rfind('-');
    DmaSpec d{};
    char* q_end = nullptr;
    const bool dir_ok = e.compare(0, 3, "txq") == 0 || e.compare(0, 3, "rxq") == 0;
    const unsigned long q = dir_ok ? std::strtoul(e.c_str() + 3, &q_end, 10) : 0;
    char* v_end = nullptr;
    const unsigned long vc = dash != std::string::npos ? std::strtoul(e.c_str() + dash + 1, &v_end, 10) : 0;
    if (!dir_ok || at == std::string::npos || q_end != e.c_str() + at || at == 3 || dash == std::string::npos ||
        dash <= at + 1 || dash + 1 == e.size() || !v_end || *v_end || vc > UINT16_MAX) {
      VHOST_LOG(ERR, "%s: dmas entry '%s' is not txq<N>@<dmadev>-<vchan> or rxq<N>@<dmadev>-<vchan>", name, e.c_str());
      return -EINVAL;
    }
    if (q >= queue_pairs) {
      VHOST_LOG(ERR, "%s: dmas entry '%s': queue %lu but queues=%u", name, e.c_str(), q, queue_pairs);
      return -EINVAL;
    }
    const std::string dn = e.substr(at + 1, dash - at - 1);
    int id = rte_dma_get_dev_id_by_name(dn.c_str());
    if (id < 0) {
      char* id_end = nullptr;
      const long n = std::strtol(dn.c_str(), &id_end, 10);
      if (*id_end == 0 && n >= 0 && n <= INT16_MAX && rte_dma_is_valid(static_cast<int16_t>(n)))
        id = static_cast<int>(n);
    }
    if (id < 0) {
      VHOST_LOG(ERR,
                "%s: dmas entry '%s': no dmadev '%s' (%u dmadev(s) present; a software one comes from "
                "--vdev dma_skeleton0)",
                name, e.c_str(), dn.c_str(), rte_dma_count_avail());
      return -ENODEV;
    }
    d.tx = e[0] == 't';
    d.queue = static_cast<unsigned>(q);
    d.dev = static_cast<int16_t>(id);
    d.vchan = static_cast<uint16_t>(vc);
    for (const DmaSpec& o : out)
      if (o.tx == d.tx && o.queue == d.queue) {
        VHOST_LOG(ERR, "%s: dmas names %s%u twice", name, d.tx ? "txq" : "rxq", d.queue);
        return -EINVAL;
      }
    out.push_back(d);
  }
  return 0;
}

// Configure and start each dmadev named (all of its vchans we use), and
// give each ring its channel. A device someone else configured or started
// is busy: we do not share it with another port or application.
int setup_dma(const char* name, Port* p, const std::vector<DmaSpec>& specs, uint32_t threshold) {
  std::vector<int16_t> devs;
  for (const DmaSpec& d : specs)
    if (std::find(devs.begin(), devs.end(), d.dev) == devs.end()) devs.push_back(d.dev);
  for (int16_t dev : devs) {
    rte_dma_info info{};
    if (int rc = rte_dma_info_get(dev, &info); rc != 0) {
      VHOST_LOG(ERR, "%s: dmadev %d: cannot read its info (%s)", name, dev, std::strerror(-rc));
      return rc;
    }
    if (!(info.dev_capa & RTE_DMA_CAPA_MEM_TO_MEM) || !(info.dev_capa & RTE_DMA_CAPA_OPS_COPY)) {
      VHOST_LOG(ERR, "%s: dmadev %s cannot copy memory to memory", name, info.dev_name);
      return -ENOTSUP;
    }
    if (!(info.dev_capa & RTE_DMA_CAPA_SVA)) {
      // Guest memory is mapped from the frontend's fds, outside DPDK's
      // memory: only a device that takes process virtual addresses reaches it.
      VHOST_LOG(ERR, "%s: dmadev %s lacks SVA; mapping guest memory for it (VFIO) is not supported", name,
                info.dev_name);
      return -ENOTSUP;
    }
    if (info.nb_vchans != 0) {
      std::lock_guard<std::mutex> g(g_dma_mu);
      const auto it = std::find(g_dma_released.begin(), g_dma_released.end(), dev);
      if (it == g_dma_released.end()) {
        VHOST_LOG(ERR, "%s: dmadev %s is busy (already configured by another port or the application)", name,
                  info.dev_name);
        return -EBUSY;
      }
      g_dma_released.erase(it);  // a closed port of ours left it: reconfigure it
    }
    uint16_t nvc = 0;
    for (const DmaSpec& d : specs)
      if (d.dev == dev) nvc = std::max<uint16_t>(nvc, static_cast<uint16_t>(d.vchan + 1));
    if (nvc > info.max_vchans) {
      VHOST_LOG(ERR, "%s: dmadev %s has %u vchan(s); dmas names vchan %u", name, info.dev_name, info.max_vchans,
                nvc - 1);
      return -EINVAL;
    }
    uint16_t nb = kDmaRingSize;
    if (nb > info.max_desc) nb = static_cast<uint16_t>(rte_align32prevpow2(info.max_desc));
    if (nb < info.min_desc) nb = static_cast<uint16_t>(rte_align32pow2(info.min_desc));
    rte_dma_conf conf{};
    conf.nb_vchans = nvc;
    int rc = rte_dma_configure(dev, &conf);
    for (uint16_t vc = 0; rc == 0 && vc < nvc; ++vc) {
      rte_dma_vchan_conf vconf{};
      vconf.direction = RTE_DMA_DIR_MEM_TO_MEM;
      vconf.nb_desc = nb;
      rc = rte_dma_vchan_setup(dev, vc, &vconf);
    }
    if (rc == 0) rc = rte_dma_start(dev);
    if (rc != 0) {
      VHOST_LOG(ERR, "%s: dmadev %s: set-up failed (%s)%s", name, info.dev_name, std::strerror(-rc),
                rc == -EBUSY ? ": busy" : "");
      return rc;
    }
    p->dma_devs.push_back(dev);
    for (uint16_t vc = 0; vc < nvc; ++vc) {
      bool used = false;
      for (const DmaSpec& d : specs) used |= d.dev == dev && d.vchan == vc;
      if (!used) continue;
      DmaChan& ch = p->chans[p->nchans++];
      ch.dev = dev;
      ch.vchan = vc;
      ch.mask = static_cast<uint16_t>(nb - 1);
      ch.tag = static_cast<Pending**>(rte_zmalloc_socket("vnet_vhost_dma_tags", sizeof(Pending*) * nb, 0, p->socket));
      if (!ch.tag) {
        VHOST_LOG(ERR, "%s: no memory for the tags of dmadev %s vchan %u", name, info.dev_name, vc);
        return -ENOMEM;
      }
    }
    VHOST_LOG(INFO, "%s: dmadev %s started, %u vchan(s) of %u descriptors, threshold %u B", name, info.dev_name, nvc,
              nb, threshold);
  }
  for (const DmaSpec& d : specs) {
    DmaChan* ch = nullptr;
    for (unsigned i = 0; i < p->nchans; ++i)
      if (p->chans[i].dev == d.dev && p->chans[i].vchan == d.vchan) ch = &p->chans[i];
    Vring& v = p->vrings[d.tx ? 2 * d.queue : 2 * d.queue + 1];
    v.aq = create_async_queue(p->socket);
    if (!v.aq) return -ENOMEM;
    v.aq->ch = ch;
    v.aq->threshold = threshold;
    ch->rings[ch->nrings++] = &v;
  }
  return 0;
}

int probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VHOST_LOG(ERR, "%s: secondary processes are not supported", name);
    return -ENOTSUP;
  }
  Args a;
  if (int rc = parse_args(name, rte_vdev_device_args(vdev), a); rc != 0) return rc;

  rte_eth_dev* dev = rte_eth_vdev_allocate(vdev, sizeof(Priv));
  if (!dev) return -ENOMEM;
  Port* p = new (std::nothrow) Port;
  if (p) {
    p->dev = dev;
    p->queue_pairs = static_cast<uint16_t>(a.queues);
    p->socket = vdev->device.numa_node;
    p->vrings = create_vrings(2u * p->queue_pairs, p->socket);
  }
  auto* mac = static_cast<rte_ether_addr*>(rte_zmalloc_socket(name, sizeof(rte_ether_addr), 0, vdev->device.numa_node));
  if (p && p->vrings) {
    ServerConfig cfg;
    cfg.queue_pairs = p->queue_pairs;
    cfg.port_id = dev->data->port_id;
    cfg.name = name;
    cfg.max_mem = static_cast<uint64_t>(a.max_mem_mb) << 20;
    p->server = new (std::nothrow) Server(p->vrings, cfg, &on_link, p);
    if (p->server) p->vrings[1].rarp = &p->server->rarp_mailbox();  // Rx queue 0 carries RARP announcements
  }
  int rc = (p && p->vrings && p->server && mac) ? 0 : -ENOMEM;
  if (rc == 0 && !a.dmas.empty()) {
    std::vector<DmaSpec> specs;
    rc = parse_dmas(name, a.dmas, p->queue_pairs, specs);
    if (rc == 0) rc = setup_dma(name, p, specs, static_cast<uint32_t>(a.dma_threshold));
  }
  if (rc == 0) rc = a.client ? p->server->set_client(a.iface.c_str()) : p->server->listen(a.iface.c_str());
  if (rc != 0) {
    destroy(p);
    rte_free(mac);
    rte_eth_dev_release_port(dev);
    return rc;
  }
  static_cast<Priv*>(dev->data->dev_private)->port = p;
  rte_eth_random_addr(mac->addr_bytes);
  dev->data->mac_addrs = mac;
  dev->data->dev_link = rte_eth_link{};
  dev->data->dev_link.link_speed = RTE_ETH_SPEED_NUM_10G;
  dev->data->dev_link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
  dev->data->dev_link.link_autoneg = RTE_ETH_LINK_FIXED;
  dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
  dev->dev_ops = &kOps;
  dev->rx_pkt_burst = eth_rx_burst;
  dev->tx_pkt_burst = eth_burst;
  // The socket listens now, so a frontend probed after us in the same process can connect.
  rc = p->server->start("vnet-vhost-ctl");
  if (rc != 0) {
    rte_eth_dev_release_port(dev);  // frees mac_addrs
    destroy(p);
    return rc;
  }
  rte_eth_dev_probing_finish(dev);
  VHOST_LOG(INFO, "%s: port %u, %s %s, %u queue pair(s)", name, dev->data->port_id,
            a.client ? "connecting to" : "listening on", a.iface.c_str(), p->queue_pairs);
  return 0;
}

int remove(rte_vdev_device* vdev) {
  rte_eth_dev* dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
  if (!dev) return 0;
  return rte_eth_dev_close(dev->data->port_id);
}

}  // namespace
}  // namespace vnet::vhost

int rte_pmd_vnet_vhost_inflight(uint16_t port_id, uint16_t queue_id, int rx) {
  using namespace vnet::vhost;
  if (!rte_eth_dev_is_valid_port(port_id)) return -ENODEV;
  rte_eth_dev* dev = &rte_eth_devices[port_id];
  if (dev->dev_ops != &kOps) return -ENODEV;
  Port* p = port_of(dev);
  if (!p || queue_id >= p->queue_pairs) return -EINVAL;
  const Vring& v = p->vrings[rx ? 2 * queue_id + 1 : 2 * queue_id];
  return v.aq ? v.aq->in_flight() : 0;
}

static rte_vdev_driver vnet_vhost_vdev = [] {
  rte_vdev_driver d{};
  d.probe = vnet::vhost::probe;
  d.remove = vnet::vhost::remove;
  return d;
}();

RTE_PMD_REGISTER_VDEV(net_vnet_vhost, vnet_vhost_vdev);
RTE_PMD_REGISTER_PARAM_STRING(net_vnet_vhost,
                              "iface=<path> queues=<int> client=<0|1> "
                              "dmas=[txq<N>@<dmadev>-<vchan>;rxq<N>@<dmadev>-<vchan>...] dma_threshold=<bytes> "
                              "max_mem_mb=<MiB>");
