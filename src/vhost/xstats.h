// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Extended stats of a net_vnet_vhost port: per queue traffic, copy-engine
// and ring-protocol counters, then the port's vhost-user control counters.
// Read while the lcores count (snapshots); reset records a baseline.
#pragma once

#include <ethdev_driver.h>

namespace vnet::vhost {

int xstats_get_names(rte_eth_dev* dev, rte_eth_xstat_name* names, unsigned size);
int xstats_get(rte_eth_dev* dev, rte_eth_xstat* xs, unsigned size);
int xstats_reset(rte_eth_dev* dev);

}  // namespace vnet::vhost
