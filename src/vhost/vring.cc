// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Arming a ring: its device ring is initialised and its data path chosen
// here, once, from the layout, the direction, the negotiated features and
// the copy engine; the bursts are instantiated in this file and nowhere
// else. The protocol layer only says what the frontend asked for. Also the
// rings' memory (the policy is at the top of vring.h) and the DMA channels'
// rare paths (a failed copy, a dead engine).
#include "vhost/vring.h"

#include <rte_malloc.h>

#include <new>

#include "vhost/datapath.h"
#include "common/log.h"
#include "vhost/settle.h"
#include "virtio/features.h"
#include "virtio/net_hdr.h"

namespace vnet::vhost {
namespace {

struct DataPath {
  Vring::Burst burst;
  Vring::Settle settle;   // async rings only
  Vring::Settle publish;  // async rings only
};

template <class Dev, class Eng>
Vring::Burst burst_for(bool dequeue, bool mrg) {
  if (dequeue) return &dequeue_burst<Dev, Eng>;
  return mrg ? &enqueue_burst<Dev, true, Eng> : &enqueue_burst<Dev, false, Eng>;
}

// The copy engine is fixed per ring: DMA when the ring has a channel.
template <class Dev>
DataPath data_path_for(bool dequeue, bool mrg, bool async) {
  if (!async) return {burst_for<Dev, CpuCopy>(dequeue, mrg), nullptr, nullptr};
  if (dequeue) return {burst_for<Dev, DmaCopy<>>(true, mrg), &settle<Dev, RteDmaApi, true>, &publish_hook<Dev, true>};
  return {burst_for<Dev, DmaCopy<>>(false, mrg), &settle<Dev, RteDmaApi, false>, &publish_hook<Dev, false>};
}

}  // namespace

int arm_vring(Vring& v, ring::DeviceConfig cfg, uint64_t features, bool dequeue) noexcept {
  fold_ring_errors(v);  // then start from zero: a failed init must not count them twice
  cfg.read_only = dequeue;
  if (const int rc = v.dq.init(cfg, &v.mem); rc != 0) return rc;
  v.dq.disable_kicks();
  v.hdr_len = static_cast<uint16_t>(virtio::net_hdr_size(features));
  const bool mrg = virtio::has(features, virtio::feat::NET_MRG_RXBUF);
  const DataPath d = ring::with_ring_type<Mem>(
      cfg.layout, [&]<class Dev>() { return data_path_for<Dev>(dequeue, mrg, v.aq != nullptr); });
  v.burst = d.burst;
  v.settle = d.settle;
  v.publish = d.publish;
  return 0;
}

Vring* create_vrings(unsigned n, int socket) noexcept {
  void* m = rte_zmalloc_socket("vnet_vhost_rings", sizeof(Vring) * n, alignof(Vring), socket);
  if (!m) {
    VNET_VHOST_LOG(ERR, "cannot allocate %u rings (%zu bytes) on socket %d", n, sizeof(Vring) * n, socket);
    return nullptr;
  }
  auto* v = static_cast<Vring*>(m);
  for (unsigned i = 0; i < n; ++i) ::new (&v[i]) Vring();
  return v;
}

void destroy_vrings(Vring* v, unsigned n) noexcept {
  if (!v) return;
  for (unsigned i = 0; i < n; ++i) v[i].~Vring();
  rte_free(v);
}

void fail_ops(DmaChan& ch, uint32_t seq, uint8_t why, bool all_after) {
  // A ring's records are in op order, so its first record with copies that
  // ends past `seq` is its candidate; the owner is the candidate that ends
  // first (records with copies end at distinct counts).
  Vring* owner_ring = nullptr;
  uint16_t owner = 0;
  const auto lose = [why](Vring& v, uint16_t i) {
    AsyncQueue& q = *v.aq;
    const uint16_t x = AsyncQueue::ix(i);
    uint8_t& f = q.fl[x];
    const uint16_t ub = q.ubegin(i), ue = q.uend[x];
    if (!(f & kLost)) {
      if (ub != ue) {  // a frame not lost already: this copy loses it
        ++v.cs.dma_errors;
        ++v.st.dropped;
      }
      if (f & kCounted) {  // taken back from the enqueue's sent count
        --v.st.packets;
        v.st.bytes -= q.mt[x]->pkt_len;
      }
      if (q.mt[x]) ++q.odd;  // no mbuf: odd already
    }
    for (uint16_t u = ub; u != ue; ++u) q.used_at(u).len = 0;
    f = static_cast<uint8_t>((f & ~kCounted) | kLost | why);
  };
  for (uint8_t r = 0; r < ch.nrings; ++r) {
    Vring& v = *ch.rings[r];
    AsyncQueue& q = *v.aq;
    for (uint16_t i = q.pub; i != q.tail; ++i) {
      const uint32_t e = q.end[AsyncQueue::ix(i)];
      if (!(q.fl[AsyncQueue::ix(i)] & kOwnOps) || static_cast<int32_t>(e - seq) <= 0) continue;
      if (all_after) {
        lose(v, i);
        continue;
      }
      if (!owner_ring || static_cast<int32_t>(e - owner_ring->aq->end[AsyncQueue::ix(owner)]) < 0) {
        owner_ring = &v;
        owner = i;
      }
      break;
    }
  }
  if (owner_ring) lose(*owner_ring, owner);
}

void kill_thresholds(DmaChan& ch) {
  for (uint8_t i = 0; i < ch.nrings; ++i) ch.rings[i]->aq->threshold = UINT32_MAX;
}

AsyncQueue* create_async_queue(int socket) noexcept {
  static_assert(std::is_nothrow_default_constructible_v<AsyncQueue>);
  void* m = rte_zmalloc_socket("vnet_vhost_async", sizeof(AsyncQueue), alignof(AsyncQueue), socket);
  if (!m) {
    VNET_VHOST_LOG(ERR, "cannot allocate a DMA ring's queue (%zu bytes) on socket %d", sizeof(AsyncQueue), socket);
    return nullptr;
  }
  return ::new (m) AsyncQueue();
}

void destroy_async_queue(AsyncQueue* q) noexcept {
  if (!q) return;
  q->~AsyncQueue();
  rte_free(q);
}

}  // namespace vnet::vhost
