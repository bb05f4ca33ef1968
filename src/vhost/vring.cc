// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Arming a ring: its device ring is initialised and its data path chosen
// here, once, from the layout, the direction, the negotiated features and
// the copy engine; the bursts are instantiated in this file and nowhere
// else. The protocol layer only says what the frontend asked for. Also the
// rings' memory (the policy is at the top of vring.h).
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
