// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// net_vnet_vhost: the built-in vhost-user backend as a DPDK ethdev (vdev).
// Rx queue i drains the frontend's transmit vring 2i+1, Tx queue i fills its
// receive vring 2i. Invariants: the queue objects are the Vrings themselves
// and live until dev_close; a frontend that goes away frees nothing a burst
// could touch; bursts only enter()/leave() their ring (and, for rings with a
// DMA channel, take that channel's flag). The dmadevs named in `dmas=` are
// configured and started at probe and stopped at close (dma_setup.cc);
// xstats are in xstats.cc, the port's state in port.h.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_ether.h>
#include <rte_malloc.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "common/c_entry.h"
#include "common/devargs.h"
#include "vnet/rte_pmd_vnet_vhost.h"
#include "vhost/datapath.h"
#include "vhost/dma_setup.h"
#include "common/log.h"
#include "vhost/port.h"
#include "vhost/rarp.h"
#include "vhost/vhost_user_server.h"
#include "vhost/xstats.h"

namespace vnet::vhost {

int stats_reset(rte_eth_dev* dev) {
  BackendPort* p = port_of(dev);
  // The data path owns the counters; reset records a baseline instead of writing them.
  for (unsigned i = 0; i < 2u * p->queue_pairs; ++i) p->base[i] = p->vrings[i].st;
  return 0;
}

namespace {

constexpr const char* kArgIface = "iface";
constexpr const char* kArgQueues = "queues";
constexpr const char* kArgClient = "client";
constexpr const char* kArgDmas = "dmas";
constexpr const char* kArgDmaThreshold = "dma_threshold";
constexpr const char* kArgMaxMem = "max_mem_mb";

// Copies at least this long go to the DMA engine unless dma_threshold= says
// otherwise: below ~1 KiB a CPU copy of cache-hot data costs less than
// submitting and completing a DMA op (benchmarks/dma_bench.cc, README).
constexpr uint32_t kDefaultDmaThreshold = 1024;

// Rx: the RARP announcement the frontend asked for (SEND_RARP), as if the
// frontend had sent it, in the room the burst left. Queue 0 only (the only
// ring with a mailbox); called inside the ring's gate.
[[gnu::noinline, gnu::cold]] uint16_t announce_rarp(Vring& v, rte_mbuf** pkts, uint16_t r) {
  uint8_t mac[6];
  if (!v.rarp->take(mac)) return r;
  rte_mbuf* m = rte_pktmbuf_alloc(v.mp);
  if (!m) {
    VNET_VHOST_LOG(ERR, "port %u: no mbuf for the RARP announcement", v.port_id);
    return r;
  }
  build_rarp(rte_pktmbuf_mtod(m, uint8_t*), mac);
  m->data_len = static_cast<uint16_t>(kRarpFrameLen);
  m->pkt_len = kRarpFrameLen;
  m->port = v.port_id;
  pkts[r++] = m;
  VNET_VHOST_LOG(INFO, "port %u: RARP announcement for %02x:%02x:%02x:%02x:%02x:%02x", v.port_id, mac[0], mac[1],
                 mac[2], mac[3], mac[4], mac[5]);
  return r;
}

// The ring's burst, inside its gate; Rx adds a pending RARP announcement.
template <bool kRx>
inline uint16_t gated_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  uint16_t r = v.burst(v, pkts, n);
  if constexpr (kRx)
    if (v.rarp && r < n && v.mp && v.rarp->pending()) [[unlikely]]
      r = announce_rarp(v, pkts, r);
  return r;
}

// Rx and Tx alike: run the ring's burst if the ring is usable. A ring with
// a DMA channel runs under the channel's flag (taken before enter(), so that
// every enter() of the channel's rings is serialised by it) and then
// publishes what completed for the channel's other rings: their frontends
// see those frames even when only this queue is being polled. Everything
// the burst reads of the ring is read between enter() and leave() (vring.h).
template <bool kRx>
uint16_t eth_burst(void* q, rte_mbuf** pkts, uint16_t n) noexcept {
  Vring& v = *static_cast<Vring*>(q);
  if (!v.aq) {
    if (!enter(v)) return 0;
    const uint16_t r = gated_burst<kRx>(v, pkts, n);
    leave(v);
    return r;
  }
  DmaChan& ch = *v.aq->ch;
  if (!ch.try_lock()) return 0;  // the control thread drains it, or another lcore uses it
  uint16_t r = 0;
  if (enter(v)) {
    r = gated_burst<kRx>(v, pkts, n);
    leave(v);
  } else {
    dma_poll<RteDmaApi>(ch);
  }
  if (ch.nrings > 1) drive_channel(ch, &v);
  ch.unlock();
  return r;
}

uint16_t eth_rx_burst(void* q, rte_mbuf** pkts, uint16_t n) noexcept { return eth_burst<true>(q, pkts, n); }
uint16_t eth_tx_burst(void* q, rte_mbuf** pkts, uint16_t n) noexcept { return eth_burst<false>(q, pkts, n); }

// rte_eth_tx_done_cleanup(): publish completed copies without sending.
int tx_done_cleanup(void* q, uint32_t) {
  eth_burst<false>(q, nullptr, 0);
  return 0;
}

void on_link(void* ctx, bool up) {
  BackendPort* p = static_cast<BackendPort*>(ctx);
  rte_eth_link link;
  rte_eth_linkstatus_get(p->dev, &link);  // atomic: link_update() may store it from another thread
  link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  rte_eth_linkstatus_set(p->dev, &link);
  rte_eth_dev_callback_process(p->dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
}

int dev_configure(rte_eth_dev*) { return 0; }

int dev_infos_get(rte_eth_dev* dev, rte_eth_dev_info* info) {
  const BackendPort* p = port_of(dev);
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
  BackendPort* p = port_of(dev);
  if (qid >= p->queue_pairs || !mp) return -EINVAL;
  dev->data->rx_queues[qid] = &p->vrings[2 * qid + 1];
  p->server->attach(2u * qid + 1, mp, true);
  return 0;
}

int tx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t, unsigned int, const rte_eth_txconf*) {
  BackendPort* p = port_of(dev);
  if (qid >= p->queue_pairs) return -EINVAL;
  dev->data->tx_queues[qid] = &p->vrings[2 * qid];
  p->server->attach(2u * qid, nullptr, true);
  return 0;
}

void rx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  BackendPort* p = port_of(dev);
  if (p && qid < p->queue_pairs) p->server->attach(2u * qid + 1, nullptr, false);
}

void tx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  BackendPort* p = port_of(dev);
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

void destroy(BackendPort* p) {
  if (!p) return;
  if (p->server) {
    p->server->stop();  // every ring quiesced: no copy in flight any more
    delete p->server;
  }
  release_dma(p);
  destroy_vrings(p->vrings, 2u * p->queue_pairs);
  delete p;
}

int dev_close(rte_eth_dev* dev) {
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) return 0;
  BackendPort* p = port_of(dev);
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
  BackendPort* p = port_of(dev);
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

int accept_op(rte_eth_dev*) { return 0; }
int mtu_set(rte_eth_dev* dev, uint16_t mtu) {
  if (mtu < RTE_ETHER_MIN_MTU || mtu > kMaxFrame - RTE_ETHER_HDR_LEN) {
    VNET_VHOST_LOG(ERR, "%s: MTU %u outside %u..%u", dev->data->name, mtu, RTE_ETHER_MIN_MTU,
                   kMaxFrame - RTE_ETHER_HDR_LEN);
    return -EINVAL;
  }
  return 0;
}

const eth_dev_ops kOps = [] {
  eth_dev_ops o{};
  o.dev_configure = c_entry<dev_configure>;
  o.dev_start = c_entry<dev_start>;
  o.dev_stop = c_entry<dev_stop>;
  o.dev_close = c_entry<dev_close>;
  o.promiscuous_enable = c_entry<accept_op>;
  o.promiscuous_disable = c_entry<accept_op>;
  o.allmulticast_enable = c_entry<accept_op>;
  o.allmulticast_disable = c_entry<accept_op>;
  o.link_update = c_entry<link_update>;
  o.stats_get = c_entry<stats_get>;
  o.stats_reset = c_entry<stats_reset>;
  o.dev_infos_get = c_entry<dev_infos_get>;
  o.mtu_set = c_entry<mtu_set>;
  o.tx_done_cleanup = c_entry<tx_done_cleanup>;
  o.xstats_get = c_entry<xstats_get>;
  o.xstats_get_names = c_entry<xstats_get_names>;
  o.xstats_reset = c_entry<xstats_reset>;
  o.rx_queue_setup = c_entry<rx_queue_setup>;
  o.rx_queue_release = c_entry<rx_queue_release>;
  o.tx_queue_setup = c_entry<tx_queue_setup>;
  o.tx_queue_release = c_entry<tx_queue_release>;
  return o;
}();

struct Args {
  std::string iface;
  unsigned ifaces = 0;  // iface= given this many times (exactly one is required)
  uint64_t queues = 1;
  uint64_t client = 0;
  std::string dmas;
  uint64_t dma_threshold = kDefaultDmaThreshold;
  uint64_t max_mem_mb = GuestMemory::kDefaultLimit >> 20;
};

int parse_args(const char* name, const char* params, Args& a) {
  const devargs::Log log{&vnet_logtype_vhost, "vnet_vhost"};
  const int rc = devargs::walk(
      name, params, {kArgIface, kArgQueues, kArgClient, kArgDmas, kArgDmaThreshold, kArgMaxMem},
      [&](const char* key, const char* v) {
        const std::string k = key;
        if (k == kArgIface) {
          a.iface = v;
          ++a.ifaces;
          return 0;
        }
        if (k == kArgDmas) {
          a.dmas = v;
          return 0;
        }
        if (k == kArgQueues) return devargs::parse_uint(key, v, 1, kMaxQueuePairs, &a.queues, log);
        if (k == kArgClient) return devargs::parse_uint(key, v, 0, 1, &a.client, log);
        if (k == kArgDmaThreshold) return devargs::parse_uint(key, v, 0, UINT32_MAX, &a.dma_threshold, log);
        return devargs::parse_uint(key, v, 1, uint64_t{1} << 30, &a.max_mem_mb, log);  // max_mem_mb, in MiB
      },
      log);
  if (rc != 0) return rc;
  if (a.ifaces != 1) {
    devargs::error(log, "%s: exactly one iface=<socket path> is required", name);
    return -EINVAL;
  }
  return 0;
}

int probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VNET_VHOST_LOG(ERR, "%s: secondary processes are not supported", name);
    return -ENOTSUP;
  }
  Args a;
  if (int rc = parse_args(name, rte_vdev_device_args(vdev), a); rc != 0) return rc;

  rte_eth_dev* dev = rte_eth_vdev_allocate(vdev, sizeof(Priv));
  if (!dev) return -ENOMEM;
  BackendPort* p = new (std::nothrow) BackendPort;
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
  dev->rx_pkt_burst = c_noexcept<eth_rx_burst>;
  dev->tx_pkt_burst = c_noexcept<eth_tx_burst>;
  // The socket listens now, so a frontend probed after us in the same process can connect.
  rc = p->server->start("vnet-vhost-ctl");
  if (rc != 0) {
    rte_eth_dev_release_port(dev);  // frees mac_addrs
    destroy(p);
    return rc;
  }
  rte_eth_dev_probing_finish(dev);
  VNET_VHOST_LOG(INFO, "%s: port %u, %s %s, %u queue pair(s)", name, dev->data->port_id,
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
  BackendPort* p = port_of(dev);
  if (!p || queue_id >= p->queue_pairs) return -EINVAL;
  const Vring& v = p->vrings[rx ? 2 * queue_id + 1 : 2 * queue_id];
  return v.aq ? v.aq->in_flight() : 0;
}

static rte_vdev_driver vnet_vhost_vdev = [] {
  rte_vdev_driver d{};
  d.probe = vnet::c_entry<vnet::vhost::probe>;
  d.remove = vnet::c_entry<vnet::vhost::remove>;
  return d;
}();

RTE_PMD_REGISTER_VDEV(net_vnet_vhost, vnet_vhost_vdev);
RTE_PMD_REGISTER_PARAM_STRING(net_vnet_vhost,
                              "iface=<path> queues=<int> client=<0|1> "
                              "dmas=[txq<N>@<dmadev>-<vchan>;rxq<N>@<dmadev>-<vchan>...] dma_threshold=<bytes> "
                              "max_mem_mb=<MiB>");
