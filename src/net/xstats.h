// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Extended statistics dev ops of the virtio-net ethdev (per-queue counters
// and the ring core's protocol-error counters).
#pragma once

#include <ethdev_driver.h>

namespace vnet::net {

int xstats_get_names(rte_eth_dev* dev, rte_eth_xstat_name* names, unsigned size);
int xstats_get(rte_eth_dev* dev, rte_eth_xstat* xs, unsigned size);
int xstats_reset(rte_eth_dev* dev);
void xstats_ops(eth_dev_ops& o);

}  // namespace vnet::net
