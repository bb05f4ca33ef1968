// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The control virtqueue of a virtio-net port (driver side) and the dev ops
// built on it: rx mode, MAC table, VLAN filter, number of queue pairs. One
// command at a time: the lock is held across add, kick and the bounded wait
// for its used entry. A command that times out leaves the queue unusable
// (the device may still own its buffer) until the next dev_start.
#pragma once

#include <ethdev_driver.h>
#include <rte_spinlock.h>

#include <cstdint>
#include <type_traits>

#include "net/queue.h"

namespace vnet::net {

struct Port;

inline constexpr uint32_t kMaxMacAddrs = 16;  // unicast MAC table entries; [0] is the port's own
inline constexpr uint32_t kMaxMcAddrs = 64;   // multicast list (set_mc_addr_list)
inline constexpr uint16_t kCtrlQueueSize = 64;
inline constexpr int kCtrlTimeoutMs = 1000;

struct CtrlQueue {
  ring::DriverQueue ring;  // initialised at each start with the negotiated layout
  ring::ShadowMem shadow;  // its shadows: the rest of the CtrlQueue's block (ctrl_alloc)
  Notifier kick;
  const rte_memzone* mz = nullptr;  // the ring, then the command buffer
  uint8_t* buf = nullptr;           // command buffer (local)
  uint64_t buf_addr = 0;            // the same as the device sees it
  uint16_t vq = 0;                  // virtqueue index: 2 * max_queue_pairs (MQ) or 2
  bool ready = false;               // started and no command timed out
  rte_spinlock_t lock = RTE_SPINLOCK_INITIALIZER;
};
static_assert(std::is_nothrow_default_constructible_v<CtrlQueue>);

// Configure (CTRL_VQ negotiated): allocate, once per port.
int ctrl_alloc(rte_eth_dev* dev) noexcept;
void ctrl_free(Port& p) noexcept;
// Start, before the transport starts the device: ring init and set-up.
int ctrl_start(rte_eth_dev* dev) noexcept;
// After DRIVER_OK: queue pairs (MQ), then what ethdev does not replay
// itself (VLAN filter, multicast list).
int ctrl_after_start(rte_eth_dev* dev);
void ctrl_stop(Port& p) noexcept;
// One command; 0 when the device acked VIRTIO_NET_OK, else -errno.
int ctrl_cmd(rte_eth_dev* dev, uint8_t cls, uint8_t cmd, const void* data, uint32_t len) noexcept;
// Install the rx mode, MAC and VLAN filter dev ops.
void ctrl_ops(eth_dev_ops& o);

}  // namespace vnet::net
