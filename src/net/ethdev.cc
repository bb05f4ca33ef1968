// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Dev ops of the virtio-net ethdev: configure, queue set-up, start/stop,
// link, stats. Feature negotiation happens here once per configure; burst
// functions are chosen once per start from the negotiated set.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "net/ethdev.h"

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_memzone.h>

#include <cinttypes>
#include <new>

#include "net/ctrl.h"
#include "net/rxtx.h"
#include "net/xstats.h"
#include "common/c_entry.h"
#include "common/log.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::net {

using virtio::bit;
using virtio::has;
namespace feat = virtio::feat;

uint64_t supported_features() {
  return bit(feat::VERSION_1) | bit(feat::RING_PACKED) | bit(feat::IN_ORDER) | bit(feat::INDIRECT_DESC) |
         bit(feat::EVENT_IDX) | bit(feat::NET_MRG_RXBUF) | bit(feat::NET_MAC) | bit(feat::NET_STATUS) |
         bit(feat::NET_MTU) | bit(feat::NET_CTRL_VQ) | bit(feat::NET_CTRL_RX) | bit(feat::NET_CTRL_VLAN) |
         bit(feat::NET_CTRL_MAC_ADDR) | bit(feat::NET_MQ) | bit(feat::NET_CSUM) | bit(feat::NET_HOST_TSO4) |
         bit(feat::NET_HOST_TSO6) | bit(feat::NET_GUEST_CSUM) | bit(feat::NET_GUEST_TSO4) | bit(feat::NET_GUEST_TSO6);
}

uint64_t wanted_features(const Port& p) {
  uint64_t want = (supported_features() | p.t->transport_features()) & p.t->device_features();
  if (!p.opt.packed) want &= ~bit(feat::RING_PACKED);
  if (!p.opt.mrg_rxbuf) want &= ~bit(feat::NET_MRG_RXBUF);
  if (!p.opt.in_order) want &= ~bit(feat::IN_ORDER);
  if (p.opt.queues < 2) want &= ~bit(feat::NET_MQ);
  // Every control feature rides on the control virtqueue (5.1.3.1).
  constexpr uint64_t ctrl_deps =
      bit(feat::NET_CTRL_RX) | bit(feat::NET_CTRL_VLAN) | bit(feat::NET_CTRL_MAC_ADDR) | bit(feat::NET_MQ);
  if (!p.opt.cq) want &= ~bit(feat::NET_CTRL_VQ);
  if (!has(want, feat::NET_CTRL_VQ)) want &= ~ctrl_deps;
  // 5.1.3.1: TSO needs the matching checksum feature. Large receive also
  // needs mergeable buffers here (a 64 KiB frame does not fit one mbuf).
  if (!has(want, feat::NET_CSUM)) want &= ~(bit(feat::NET_HOST_TSO4) | bit(feat::NET_HOST_TSO6));
  if (!has(want, feat::NET_GUEST_CSUM) || !has(want, feat::NET_MRG_RXBUF))
    want &= ~(bit(feat::NET_GUEST_TSO4) | bit(feat::NET_GUEST_TSO6));
  return want;
}

namespace {

constexpr uint16_t kIndirectPerHead = kMaxTxSegs + 1;

Port& port_of(rte_eth_dev* dev) { return *static_cast<Port*>(dev->data->dev_private); }

// ---- burst selection ------------------------------------------------------
constexpr uint64_t kTxOffloads = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                                 RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_VLAN_INSERT;

template <class R, bool Va>
void pick(rte_eth_dev* dev, bool mrg, bool tx_off) {
  dev->rx_pkt_burst = mrg ? rx_burst<R, Va, true> : rx_burst<R, Va, false>;     // c-boundary: burst (c_entry.h)
  dev->tx_pkt_burst = tx_off ? tx_burst<R, Va, true> : tx_burst<R, Va, false>;  // c-boundary: burst (c_entry.h)
  dev->tx_pkt_prepare = tx_off ? c_noexcept<tx_prepare> : nullptr;
}
void pick_bursts(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  const bool va = p.t->uses_va();
  const bool off = dev->data->dev_conf.txmode.offloads & kTxOffloads;
  ring::DriverQueue::with_layout(
      p.layout, [&]<class R>() { va ? pick<R, true>(dev, p.mrg, off) : pick<R, false>(dev, p.mrg, off); });
}

// Negotiated offloads into the queues (Rx: header parsing, VLAN strip).
void queue_offloads(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  const bool strip = dev->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
  const uint8_t rx_gso =
      (has(p.features, feat::NET_GUEST_TSO4) ? kGsoTcp4 : 0) | (has(p.features, feat::NET_GUEST_TSO6) ? kGsoTcp6 : 0);
  const uint8_t tx_gso =
      (has(p.features, feat::NET_HOST_TSO4) ? kGsoTcp4 : 0) | (has(p.features, feat::NET_HOST_TSO6) ? kGsoTcp6 : 0);
  const bool rx_hdr = has(p.features, feat::NET_GUEST_CSUM) || rx_gso;
  for (uint16_t i = 0; i < p.nqp; ++i) {
    auto* rq = static_cast<Queue*>(dev->data->rx_queues[i]);
    auto* tq = static_cast<Queue*>(dev->data->tx_queues[i]);
    rq->rx_csum = has(p.features, feat::NET_GUEST_CSUM);
    rq->rx_gso = rx_gso;
    rq->rx_off = static_cast<uint8_t>((rx_hdr ? kRxOffHdr : 0) | (strip ? kRxOffStrip : 0));
    tq->tx_csum = has(p.features, feat::NET_CSUM);
    tq->tx_gso = tx_gso;
  }
}

// ---- queues ----------------------------------------------------------------
// The Queue and its ring's shadows share one block (queue_alloc).
void queue_free(Queue* q) noexcept {
  if (!q) return;
  rte_memzone_free(q->ring_mz);
  rte_memzone_free(q->aux_mz);
  q->~Queue();
  rte_free(q);
}

// The device stopped: free every mbuf the queue holds.
void queue_drain(Queue* q) noexcept {
  q->ring.drain([](void* t) { rte_pktmbuf_free(static_cast<rte_mbuf*>(t)); });
  if (q->part_head) rte_pktmbuf_free(q->part_head);
  q->part_head = q->part_tail = nullptr;
  q->part_left = 0;
}

int check_size(const Port& p, uint32_t n) noexcept {
  const uint32_t max = p.t->max_queue_size() ? p.t->max_queue_size() : virtio::SPLIT_MAX_SIZE;
  if (n > max || !ring::size_ok(p.layout, n)) {
    VNET_LOG(ERR, "queue size %u not allowed: %s ring, at most %u", n, ring::size_rule(p.layout),
             std::min<uint32_t>(max, virtio::PACKED_MAX_SIZE));
    return -EINVAL;
  }
  return 0;
}

// One block on the queue's socket: the Queue, then its ring's shadows
// (sized for either layout: a later configure may switch it).
Queue* queue_alloc(rte_eth_dev* dev, bool rx, uint16_t qid, uint16_t nb_desc, unsigned socket) noexcept {
  Port& p = port_of(dev);
  const uint32_t n = nb_desc ? nb_desc : p.opt.queue_size;
  if (check_size(p, n) != 0) return nullptr;
  const size_t shadow_off = RTE_ALIGN_CEIL(sizeof(Queue), RTE_CACHE_LINE_SIZE);
  const size_t shadow_bytes = ring::DriverQueue::bytes_needed(n);
  auto* mem = static_cast<uint8_t*>(
      rte_zmalloc_socket("vnet_queue", shadow_off + shadow_bytes, RTE_CACHE_LINE_SIZE, static_cast<int>(socket)));
  if (!mem) {
    VNET_LOG(ERR, "port %u: no memory for %s queue %u of %u descriptors", dev->data->port_id, rx ? "rx" : "tx", qid, n);
    return nullptr;
  }
  Queue* q = new (mem) Queue();
  q->shadow = ring::ShadowMem{mem + shadow_off, shadow_bytes};
  q->size = n;
  q->is_rx = rx;
  q->queue_id = qid;
  q->port_id = dev->data->port_id;
  q->vq = static_cast<uint16_t>(2 * qid + (rx ? 0 : 1));
  q->hdr_size = p.hdr_size;
  q->rx_nombuf = &dev->data->rx_mbuf_alloc_failed;
  char name[RTE_MEMZONE_NAMESIZE];
  snprintf(name, sizeof name, "vnet%u_%s%u_ring", dev->data->port_id, rx ? "rx" : "tx", qid);
  q->ring_mz = rte_memzone_reserve_aligned(name, ring::DriverQueue::parts(p.layout, n, used_align(p)).total,
                                           static_cast<int>(socket), RTE_MEMZONE_IOVA_CONTIG, 4096);
  if (!rx) {
    // Indirect tables (one per buffer id) followed by the Tx header slots.
    const size_t aux = size_t{n} * kIndirectPerHead * virtio::DESC_SIZE + size_t{n} * kTxHdrStride;
    snprintf(name, sizeof name, "vnet%u_tx%u_aux", dev->data->port_id, qid);
    q->aux_mz = rte_memzone_reserve_aligned(name, aux, static_cast<int>(socket), RTE_MEMZONE_IOVA_CONTIG, 64);
  }
  if (!q->ring_mz || (!rx && !q->aux_mz)) {
    VNET_LOG(ERR, "port %u: no memory for %s queue %u of %u descriptors: %s", dev->data->port_id, rx ? "rx" : "tx", qid,
             n, rte_strerror(rte_errno));
    queue_free(q);
    return nullptr;
  }
  return q;
}

uint64_t dev_addr(const Port& p, const rte_memzone* mz, size_t off) noexcept {
  return (p.t->uses_va() ? reinterpret_cast<uint64_t>(mz->addr) : mz->iova) + off;
}

// (Re)initialise a queue's ring for a fresh start and tell the transport.
// -ENOSPC: the memzone was reserved for the other layout (set the queue up again).
int queue_start(Port& p, Queue* q) noexcept {
  if (ring::DriverQueue::parts(p.layout, q->size, used_align(p)).total > q->ring_mz->len) return -ENOSPC;
  ring::DriverConfig c;
  c.size = q->size;
  c.indirect = has(p.features, feat::INDIRECT_DESC) && !q->is_rx;
  c.event_idx = has(p.features, feat::EVENT_IDX);
  c.in_order = has(p.features, feat::IN_ORDER);
  c.ring = ring::RingMem{q->ring_mz->addr, dev_addr(p, q->ring_mz, 0)};
  c.used_align = used_align(p);
  c.shadow = q->shadow;
  if (!q->is_rx) {
    if (c.indirect) c.indirect_pool = ring::IndirectPool{q->aux_mz->addr, dev_addr(p, q->aux_mz, 0), kIndirectPerHead};
    const size_t hoff = size_t{q->size} * kIndirectPerHead * virtio::DESC_SIZE;
    q->hdrs = static_cast<uint8_t*>(q->aux_mz->addr) + hoff;
    q->hdrs_addr = dev_addr(p, q->aux_mz, hoff);
  }
  if (const int rc = q->ring.init(p.layout, c); rc != 0) return rc;
  const QueueAddrs a = ring_addrs(p.layout, q->size, dev_addr(p, q->ring_mz, 0), used_align(p));
  return p.t->setup_queue(q->vq, a, &q->kick);
}

// ---- dev ops ---------------------------------------------------------------
int dev_configure(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  const auto& conf = dev->data->dev_conf;
  const uint16_t nrx = dev->data->nb_rx_queues, ntx = dev->data->nb_tx_queues;
  const uint16_t maxqp =
      has(wanted_features(p), feat::NET_MQ) ? std::min<uint16_t>(p.t->max_queue_pairs(), p.opt.queues) : 1;
  if (nrx != ntx || nrx == 0 || nrx > maxqp) {
    VNET_LOG(ERR, "port %u: %u rx / %u tx queues asked; virtio-net has queue pairs, at most %u here%s",
             dev->data->port_id, nrx, ntx, maxqp,
             maxqp == 1 ? " (more need devarg queues=N and a device with VIRTIO_NET_F_MQ)" : "");
    return -EINVAL;
  }
  if (conf.rxmode.mq_mode != RTE_ETH_MQ_RX_NONE) {
    VNET_LOG(ERR, "port %u: rx mq_mode %d not supported", dev->data->port_id, conf.rxmode.mq_mode);
    return -ENOTSUP;
  }
  uint64_t want = wanted_features(p);
  // Offload features only as far as the application turned the offload on:
  // a device must not hand partial checksums to an application that does
  // not look at the flags.
  const uint64_t rxo = conf.rxmode.offloads, txo = conf.txmode.offloads;
  if (!(txo & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO)))
    want &= ~bit(feat::NET_CSUM);
  if (!(txo & RTE_ETH_TX_OFFLOAD_TCP_TSO)) want &= ~(bit(feat::NET_HOST_TSO4) | bit(feat::NET_HOST_TSO6));
  if (!(rxo & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO)))
    want &= ~bit(feat::NET_GUEST_CSUM);
  if (!(rxo & RTE_ETH_RX_OFFLOAD_TCP_LRO)) want &= ~(bit(feat::NET_GUEST_TSO4) | bit(feat::NET_GUEST_TSO6));
  if (!has(want, feat::VERSION_1) && !p.t->legacy()) {
    VNET_LOG(ERR, "port %u: device does not offer VIRTIO_F_VERSION_1", dev->data->port_id);
    return -ENOTSUP;
  }
  if (p.opt.packed && !has(want, feat::RING_PACKED))
    VNET_LOG(WARNING, "port %u: packed ring asked for but not offered; using split", dev->data->port_id);
  if (const int rc = p.t->set_features(want); rc != 0) {
    VNET_LOG(ERR, "port %u: feature negotiation failed: %s", dev->data->port_id, strerror(-rc));
    return rc;
  }
  p.features = want;
  p.layout = ring::layout_of(want);
  p.mrg = has(want, feat::NET_MRG_RXBUF);
  p.hdr_size = static_cast<uint16_t>(virtio::net_hdr_size(want));
  p.nqp = nrx;
  if (has(want, feat::NET_CTRL_VQ)) {
    if (const int rc = ctrl_alloc(dev); rc != 0) return rc;
  } else {
    ctrl_free(p);
  }
  VNET_LOG(INFO, "port %u: features 0x%" PRIx64 " (%s ring%s%s%s%s)", dev->data->port_id, want,
           ring::layout_name(p.layout), p.mrg ? ", mergeable rx" : "", has(want, feat::IN_ORDER) ? ", in-order" : "",
           has(want, feat::INDIRECT_DESC) ? ", indirect" : "", has(want, feat::EVENT_IDX) ? ", event idx" : "");
  if (has(want, feat::NET_CTRL_VQ))
    VNET_LOG(INFO, "port %u: control virtqueue:%s%s%s%s", dev->data->port_id,
             has(want, feat::NET_MQ) ? " multi-queue" : "", has(want, feat::NET_CTRL_RX) ? " rx-mode/mac-table" : "",
             has(want, feat::NET_CTRL_VLAN) ? " vlan-filter" : "",
             has(want, feat::NET_CTRL_MAC_ADDR) ? " mac-set" : "");
  return 0;
}

int dev_infos_get(rte_eth_dev* dev, rte_eth_dev_info* info) {
  Port& p = port_of(dev);
  const uint64_t offer = wanted_features(p);
  const uint16_t qp = has(offer, feat::NET_MQ) ? std::min<uint16_t>(p.t->max_queue_pairs(), p.opt.queues) : 1;
  info->max_rx_queues = qp;
  info->max_tx_queues = qp;
  info->min_rx_bufsize = 64;
  const bool mrg = p.opt.mrg_rxbuf && has(p.t->device_features(), feat::NET_MRG_RXBUF);
  info->max_rx_pktlen = mrg ? 9728 : RTE_MBUF_DEFAULT_DATAROOM;
  info->max_mtu = static_cast<uint16_t>(info->max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN);
  info->min_mtu = RTE_ETHER_MIN_MTU;
  info->max_mac_addrs = has(offer, feat::NET_CTRL_RX) ? kMaxMacAddrs : 1;
  const uint32_t max = p.t->max_queue_size() ? p.t->max_queue_size() : virtio::SPLIT_MAX_SIZE;
  info->rx_desc_lim = {.nb_max = static_cast<uint16_t>(std::min<uint32_t>(max, 32768)),
                       .nb_min = 1,
                       .nb_align = 1,
                       .nb_seg_max = 0,
                       .nb_mtu_seg_max = 0};
  info->tx_desc_lim = info->rx_desc_lim;
  info->default_rxportconf.ring_size = static_cast<uint16_t>(p.opt.queue_size);
  info->default_txportconf.ring_size = static_cast<uint16_t>(p.opt.queue_size);
  info->default_rxportconf.nb_queues = 1;
  info->default_txportconf.nb_queues = 1;
  info->rx_offload_capa =
      (mrg ? RTE_ETH_RX_OFFLOAD_SCATTER : 0) | RTE_ETH_RX_OFFLOAD_VLAN_STRIP |
      (has(offer, feat::NET_CTRL_VLAN) ? RTE_ETH_RX_OFFLOAD_VLAN_FILTER : 0) |
      (has(offer, feat::NET_GUEST_CSUM) ? RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM : 0) |
      (has(offer, feat::NET_GUEST_TSO4) || has(offer, feat::NET_GUEST_TSO6) ? RTE_ETH_RX_OFFLOAD_TCP_LRO : 0);
  info->tx_offload_capa =
      RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_VLAN_INSERT |
      (has(offer, feat::NET_CSUM) ? RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM : 0) |
      (has(offer, feat::NET_HOST_TSO4) || has(offer, feat::NET_HOST_TSO6) ? RTE_ETH_TX_OFFLOAD_TCP_TSO : 0);
  if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO) info->max_lro_pkt_size = 65535 + RTE_ETHER_HDR_LEN;
  info->speed_capa = RTE_ETH_LINK_SPEED_AUTONEG;
  return 0;
}

int rx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t nb_desc, unsigned socket, const rte_eth_rxconf*,
                   rte_mempool* mp) noexcept {
  Port& p = port_of(dev);
  if (p.hdr_size == 0) return -EINVAL;  // configure first
  const uint32_t room = rte_pktmbuf_data_room_size(mp);
  if (room < RTE_PKTMBUF_HEADROOM + 64) {
    VNET_LOG(ERR, "port %u rx queue %u: mbuf data room %u too small", dev->data->port_id, qid, room);
    return -EINVAL;
  }
  Queue* q = queue_alloc(dev, true, qid, nb_desc, socket);
  if (!q) return -ENOMEM;
  q->mp = mp;
  q->rx_buf_len = room - RTE_PKTMBUF_HEADROOM + p.hdr_size;
  queue_free(static_cast<Queue*>(dev->data->rx_queues[qid]));
  dev->data->rx_queues[qid] = q;
  return 0;
}

int tx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t nb_desc, unsigned socket, const rte_eth_txconf*) noexcept {
  Port& p = port_of(dev);
  if (p.hdr_size == 0) return -EINVAL;
  Queue* q = queue_alloc(dev, false, qid, nb_desc, socket);
  if (!q) return -ENOMEM;
  queue_free(static_cast<Queue*>(dev->data->tx_queues[qid]));
  dev->data->tx_queues[qid] = q;
  return 0;
}

void rx_queue_release(rte_eth_dev* dev, uint16_t qid) noexcept {
  queue_free(static_cast<Queue*>(dev->data->rx_queues[qid]));
  dev->data->rx_queues[qid] = nullptr;
}
void tx_queue_release(rte_eth_dev* dev, uint16_t qid) noexcept {
  queue_free(static_cast<Queue*>(dev->data->tx_queues[qid]));
  dev->data->tx_queues[qid] = nullptr;
}

int link_update(rte_eth_dev* dev, int) {
  Port& p = port_of(dev);
  rte_eth_link l{};
  l.link_speed = p.opt.speed;
  l.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
  l.link_autoneg = RTE_ETH_LINK_FIXED;
  l.link_status = p.started && p.up && !p.admin_down && p.t->link_up() ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  return rte_eth_linkstatus_set(dev, &l);
}

// Calls f(queue) for every queue of the port's pairs that is set up.
template <class F>
void each_queue(rte_eth_dev* dev, F&& f) {
  for (uint16_t i = 0; i < port_of(dev).nqp; ++i)
    for (void* qv : {dev->data->rx_queues[i], dev->data->tx_queues[i]})
      if (qv) f(*static_cast<Queue*>(qv));
}

// Stop the bursts and wait until none is inside: every gate closed, one
// process-wide fence for all of them, then each waited out.
void quiesce(rte_eth_dev* dev) noexcept {
  each_queue(dev, [](Queue& q) { q.gate.close(); });
  ring::BurstGate::fence();
  each_queue(dev, [](Queue& q) { q.gate.wait_idle(); });
}

// Let the bursts in: the rings are set up.
void resume(rte_eth_dev* dev) noexcept {
  each_queue(dev, [](Queue& q) { q.gate.open(); });
}

// The device side of a started port, bursts paused: fresh rings, device
// start, Rx buffers, control queue set-up. -ENOTCONN: no device now.
int device_up(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  const uint16_t n = p.nqp;
  for (uint16_t i = 0; i < n; ++i)
    for (void* qv : {dev->data->rx_queues[i], dev->data->tx_queues[i]}) {
      auto* q = static_cast<Queue*>(qv);
      if (const int rc = queue_start(p, q); rc != 0) {
        VNET_LOG(ERR, "port %u: virtqueue %u set-up failed: %s", dev->data->port_id, q->vq, strerror(-rc));
        return rc;
      }
    }
  if (const int rc = ctrl_start(dev); rc != 0) {
    VNET_LOG(ERR, "port %u: control virtqueue set-up failed: %s", dev->data->port_id, strerror(-rc));
    return rc;
  }
  if (const int rc = p.t->start(static_cast<uint16_t>(2 * n)); rc != 0) {
    if (rc != -ENOTCONN)
      VNET_LOG(ERR, "port %u: device start over %s failed: %s", dev->data->port_id, p.t->name(), strerror(-rc));
    return rc;
  }
  const bool va = p.t->uses_va();
  for (uint16_t i = 0; i < n; ++i) {
    Queue& q = *static_cast<Queue*>(dev->data->rx_queues[i]);
    ring::DriverQueue::with_layout(q.ring.layout(),
                                   [&]<class R>() { va ? rx_refill<R, true>(q) : rx_refill<R, false>(q); });
  }
  if (const int rc = ctrl_after_start(dev); rc != 0) {
    VNET_LOG(ERR, "port %u: the device refused its queue/filter set-up over the control virtqueue", dev->data->port_id);
    return rc;
  }
  return 0;
}

// Bursts paused: stop the device and free every mbuf the rings hold.
void device_down(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  ctrl_stop(p);
  if (const int rc = p.t->stop(); rc != 0)
    VNET_LOG(WARNING, "port %u: device stop: %s", dev->data->port_id, strerror(-rc));
  each_queue(dev, [](Queue& q) { queue_drain(&q); });
  p.up = false;
}

void set_queue_state(rte_eth_dev* dev, uint8_t state) {
  for (uint16_t i = 0; i < port_of(dev).nqp; ++i) {
    dev->data->rx_queue_state[i] = state;
    dev->data->tx_queue_state[i] = state;
  }
}

int dev_start(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  const std::lock_guard<std::mutex> g(p.lock);
  ring::asym_fence_enable();  // before the first burst (ring::BurstGate)
  for (uint16_t i = 0; i < p.nqp; ++i)
    if (!dev->data->rx_queues[i] || !dev->data->tx_queues[i]) {
      VNET_LOG(ERR, "port %u: queue pair %u not set up", dev->data->port_id, i);
      return -EINVAL;
    }
  queue_offloads(dev);
  pick_bursts(dev);
  const int rc = device_up(dev);
  if (rc != 0 && rc != -ENOTCONN) {
    device_down(dev);
    return rc;
  }
  p.started = true;
  p.up = rc == 0;
  if (rc == -ENOTCONN)
    VNET_LOG(INFO, "port %u: started; link stays down until the device is there", dev->data->port_id);
  set_queue_state(dev, RTE_ETH_QUEUE_STATE_STARTED);
  if (p.up && !p.admin_down) resume(dev);
  link_update(dev, 0);
  return 0;
}

int dev_stop(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  // A restart under way in the transport's thread (it holds the port lock
  // while it talks to the device) gives up at once instead of making us
  // wait on a device that stalls.
  if (p.t) p.t->hold(true);
  {
    const std::lock_guard<std::mutex> g(p.lock);
    if (p.started) {
      quiesce(dev);
      p.started = false;
      device_down(dev);
      set_queue_state(dev, RTE_ETH_QUEUE_STATE_STOPPED);
      link_update(dev, 0);
    }
  }
  if (p.t) p.t->hold(false);
  return 0;
}

// Under the port lock, the port started: follow the device away (free what
// the rings hold, link down) or back (restart the rings, link up). false
// when there was nothing to do.
bool follow_device(rte_eth_dev* dev, TransportEvent ev) noexcept {
  Port& p = port_of(dev);
  if (ev == TransportEvent::Down && p.up) {
    quiesce(dev);
    device_down(dev);
    VNET_LOG(WARNING, "port %u: device gone: link down, queued mbufs freed", dev->data->port_id);
    return true;
  }
  if (ev == TransportEvent::Up && !p.up) {
    quiesce(dev);
    if (const int rc = device_up(dev); rc != 0) {
      VNET_LOG(ERR, "port %u: device is back but could not be restarted: %s", dev->data->port_id, strerror(-rc));
      device_down(dev);
    } else {
      p.up = true;
      if (!p.admin_down) resume(dev);
      VNET_LOG(INFO, "port %u: device back: link up", dev->data->port_id);
    }
    return true;
  }
  return false;
}

// The transport's thread (virtio-user's monitor, PCI's interrupt thread),
// one path for every transport: the port lock orders the event against
// start/stop, the link is read again under it, then LSC is raised. A config
// change re-reads the link whether or not the port is started.
void on_transport_event(void* arg, TransportEvent ev) noexcept {
  auto* dev = static_cast<rte_eth_dev*>(arg);
  Port& p = port_of(dev);
  {
    const std::lock_guard<std::mutex> g(p.lock);
    if (ev != TransportEvent::Config && (!p.started || !follow_device(dev, ev))) return;
    link_update(dev, 0);
  }
  rte_eth_dev_callback_process(dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
}

int dev_close(rte_eth_dev* dev) noexcept {
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) return 0;
  dev_stop(dev);
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) rx_queue_release(dev, i);
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) tx_queue_release(dev, i);
  Port& p = port_of(dev);
  ctrl_free(p);
  delete p.t;  // joins the transport's thread: no lock of ours held here
  p.t = nullptr;
  return 0;
}

int stats_get(rte_eth_dev* dev, rte_eth_stats* s) {
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) {
    const auto* q = static_cast<const Queue*>(dev->data->rx_queues[i]);
    if (!q) continue;
    const QueueStats st = ring::counters_snapshot(q->st);  // the lcore keeps counting
    s->ipackets += st.packets;
    s->ibytes += st.bytes;
    s->ierrors += st.errors;
    if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      s->q_ipackets[i] = st.packets;
      s->q_ibytes[i] = st.bytes;
      s->q_errors[i] = st.errors;
    }
  }
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) {
    const auto* q = static_cast<const Queue*>(dev->data->tx_queues[i]);
    if (!q) continue;
    const QueueStats st = ring::counters_snapshot(q->st);
    s->opackets += st.packets;
    s->obytes += st.bytes;
    s->oerrors += st.errors;
    if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      s->q_opackets[i] = st.packets;
      s->q_obytes[i] = st.bytes;
    }
  }
  s->rx_nombuf = dev->data->rx_mbuf_alloc_failed;
  return 0;
}

int stats_reset(rte_eth_dev* dev) { return xstats_reset(dev); }

int mtu_set(rte_eth_dev* dev, uint16_t mtu) {
  Port& p = port_of(dev);
  rte_eth_dev_info info{};
  dev_infos_get(dev, &info);
  if (mtu < info.min_mtu || mtu > info.max_mtu) {
    VNET_LOG(ERR, "port %u: MTU %u outside %u..%u", dev->data->port_id, mtu, info.min_mtu, info.max_mtu);
    return -EINVAL;
  }
  p.mtu = mtu;
  return 0;
}

int vlan_offload_set(rte_eth_dev* dev, int mask) {
  Port& p = port_of(dev);
  const uint64_t rxo = dev->data->dev_conf.rxmode.offloads;
  if (mask & RTE_ETH_VLAN_STRIP_MASK) {  // software strip: the Rx burst reads rx_off once per burst
    for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i)
      if (auto* q = static_cast<Queue*>(dev->data->rx_queues[i]))
        q->rx_off = static_cast<uint8_t>((q->rx_off & ~kRxOffStrip) |
                                         ((rxo & RTE_ETH_RX_OFFLOAD_VLAN_STRIP) ? kRxOffStrip : 0));
  }
  if ((mask & RTE_ETH_VLAN_FILTER_MASK) && (rxo & RTE_ETH_RX_OFFLOAD_VLAN_FILTER) &&
      !has(p.hdr_size ? p.features : wanted_features(p), feat::NET_CTRL_VLAN)) {
    VNET_LOG(INFO, "port %u: VLAN filter needs VIRTIO_NET_F_CTRL_VLAN (devarg cq=1): not supported",
             dev->data->port_id);
    return -ENOTSUP;
  }
  if (mask & (RTE_ETH_VLAN_EXTEND_MASK | RTE_ETH_QINQ_STRIP_MASK) &&
      (rxo & (RTE_ETH_RX_OFFLOAD_VLAN_EXTEND | RTE_ETH_RX_OFFLOAD_QINQ_STRIP))) {
    VNET_LOG(INFO, "port %u: QinQ is not supported", dev->data->port_id);
    return -ENOTSUP;
  }
  return 0;
}

// Administrative link down/up: the bursts stop (return 0) and the link
// reads down; the device and the rings stay as they are.
int set_link_down(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  const std::lock_guard<std::mutex> g(p.lock);
  p.admin_down = true;
  quiesce(dev);
  link_update(dev, 0);
  return 0;
}
int set_link_up(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  const std::lock_guard<std::mutex> g(p.lock);
  p.admin_down = false;
  if (p.started && p.up) resume(dev);
  link_update(dev, 0);
  return 0;
}

const eth_dev_ops kOps = [] {
  eth_dev_ops o{};
  o.dev_configure = c_entry<dev_configure>;
  o.dev_start = c_entry<dev_start>;
  o.dev_stop = c_entry<dev_stop>;
  o.dev_close = c_entry<dev_close>;
  o.dev_infos_get = c_entry<dev_infos_get>;
  o.rx_queue_setup = c_entry<rx_queue_setup>;
  o.tx_queue_setup = c_entry<tx_queue_setup>;
  o.rx_queue_release = c_entry<rx_queue_release>;
  o.tx_queue_release = c_entry<tx_queue_release>;
  o.link_update = c_entry<link_update>;
  o.stats_get = c_entry<stats_get>;
  o.stats_reset = c_entry<stats_reset>;
  ctrl_ops(o);
  xstats_ops(o);
  o.mtu_set = c_entry<mtu_set>;
  o.vlan_offload_set = c_entry<vlan_offload_set>;
  o.dev_set_link_down = c_entry<set_link_down>;
  o.dev_set_link_up = c_entry<set_link_up>;
  return o;
}();

}  // namespace

int attach(rte_eth_dev* dev, Transport* t, const PortOptions& o) {
  Port* p = new (dev->data->dev_private) Port();
  p->t = t;
  p->opt = o;
  virtio::NetConfig cfg{};
  const bool have_cfg = has(t->device_features(), feat::NET_MAC) && t->read_config(&cfg);
  // ethdev frees mac_addrs itself when the port is released.
  auto* mac = static_cast<rte_ether_addr*>(rte_zmalloc("vnet_mac", kMaxMacAddrs * sizeof(rte_ether_addr), 0));
  if (!mac) return -ENOMEM;
  if (o.mac_set)
    *mac = o.mac;
  else if (have_cfg)
    std::memcpy(mac->addr_bytes, cfg.mac, 6);
  else
    rte_eth_random_addr(mac->addr_bytes);
  dev->data->mac_addrs = mac;
  dev->dev_ops = &kOps;
  dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
  t->set_event_handler(on_transport_event, dev);
  return 0;
}

int detach(rte_eth_dev* dev) {
  dev_close(dev);
  port_of(dev).~Port();
  return 0;
}

}  // namespace vnet::net
