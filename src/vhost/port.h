// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The state of one net_vnet_vhost port beyond rte_eth_dev_data: its vrings
// (the ethdev's queue objects), the vhost-user server, DMA channels and the
// stats baselines. Process-private (C++ members); dev_private holds a pointer.
#pragma once

#include <ethdev_driver.h>

#include <cstdint>
#include <vector>

#include "vhost/copy_engine.h"
#include "vhost/vhost_user_server.h"
#include "vhost/vring.h"

namespace vnet::vhost {

struct BackendPort {
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
  BackendPort* port;
};

inline BackendPort* port_of(rte_eth_dev* dev) { return static_cast<Priv*>(dev->data->dev_private)->port; }

// ethdev ops shared between this port's files.
int stats_reset(rte_eth_dev* dev);

}  // namespace vnet::vhost
