// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Log types of the driver (one per component, registered with rte_log) and
// the bridge that sends ring-layer errors (plain C++, no DPDK) to rte_log.
#include <rte_log.h>

#include "ring/common.h"
#include "common/log.h"

RTE_LOG_REGISTER(vnet_logtype_ring, pmd.net.vnet.ring, NOTICE);
RTE_LOG_REGISTER(vnet_logtype_net, pmd.net.vnet, NOTICE);
RTE_LOG_REGISTER(vnet_logtype_user, pmd.net.vnet.user, NOTICE);

namespace {
void ring_to_rte_log(int level, const char* msg) {
  rte_log(static_cast<uint32_t>(level), static_cast<uint32_t>(vnet_logtype_ring), "%s\n", msg);
}
}  // namespace

RTE_INIT(vnet_ring_log_bridge) { vnet::ring::set_log_sink(&ring_to_rte_log); }
