// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The virtio-net ethdev, common to every transport: the per-port state the
// dev ops share, and attach/detach called by the transports' probe/remove.
// The Transport lives on the heap (it has a vtable); the Port, in the
// ethdev's dev_private, only points to it.
#pragma once

#include <ethdev_driver.h>
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "net/transport.h"
#include "ring/common.h"

namespace vnet::net {

struct PortOptions {
  uint16_t queues = 1;        // queue pairs asked for
  uint32_t queue_size = 256;  // default ring size (rte_eth_*_queue_setup may ask another)
  bool packed = false;
  bool mrg_rxbuf = true;
  bool in_order = false;
  bool cq = false;
  bool mac_set = false;
  rte_ether_addr mac{};
  uint32_t speed = RTE_ETH_SPEED_NUM_10G;
};

struct CtrlQueue;

struct Port {
  Transport* t = nullptr;
  PortOptions opt;
  uint64_t features = 0;  // negotiated
  uint16_t hdr_size = 0;
  uint16_t nqp = 0;
  ring::Layout layout = ring::Layout::Split;  // negotiated (RING_PACKED)
  bool mrg = false;
  // Written under `lock`; read without it by link_update (the application's
  // link queries must not wait for a restart), hence atomic.
  std::atomic<bool> started{false};     // the application started the port
  std::atomic<bool> up{false};          // the device runs the rings (false while virtio-user's backend is away)
  std::atomic<bool> admin_down{false};  // rte_eth_dev_set_link_down
  std::mutex lock;                      // start/stop against the transport's events (TransportEvent)
  uint16_t mtu = RTE_ETHER_MTU;
  CtrlQueue* cvq = nullptr;    // when CTRL_VQ is negotiated
  rte_ether_addr mc[64] = {};  // multicast list (set_mc_addr_list), kMaxMcAddrs
  uint32_t nb_mc = 0;
};

// Split used-ring alignment the device expects (2.7: 4; legacy devices 4096).
inline size_t used_align(const Port& p) { return p.t->legacy() ? 4096 : 4; }

// The features this driver can drive, before the user's devargs trim them.
uint64_t supported_features();

// What configure will ask the device for: supported, offered, and allowed
// by the devargs.
uint64_t wanted_features(const Port& p);

// Takes ownership of t (deleted by detach). dev->data->dev_private must be
// a zeroed sizeof(Port) area. Returns 0 or -errno.
int attach(rte_eth_dev* dev, Transport* t, const PortOptions& o);
int detach(rte_eth_dev* dev);

}  // namespace vnet::net
