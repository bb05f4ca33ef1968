// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Arming a ring: its device ring is initialised and its data path chosen
// here, once, from the layout, the direction, the negotiated features and
// the copy engine; the bursts are instantiated in this file and nowhere
// else. The protocol layer only says what the frontend asked for.
#include "vhost/vring.h"

#include "vhost/datapath.h"
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

}  // namespace vnet::vhost
