// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
/* Public API of net_vnet_vhost (vnet's built-in vhost-user backend) beyond
 * the ethdev ops: queries an application may make about one port. C and C++.
 * Invariant: every call checks the port is a net_vnet_vhost port. */
#ifndef RTE_PMD_VNET_VHOST_H
#define RTE_PMD_VNET_VHOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Packets of one queue whose DMA copies have not completed yet (their used
 * entries wait), or 0 for a queue copied by the CPU. rx != 0: Rx queue
 * (the frontend's transmit ring), else Tx queue. Call it from the lcore
 * that polls the queue, or while the port is stopped.
 * Returns the count, -ENODEV (not a net_vnet_vhost port) or -EINVAL. */
int rte_pmd_vnet_vhost_inflight(uint16_t port_id, uint16_t queue_id, int rx);

#ifdef __cplusplus
}
#endif

#endif /* RTE_PMD_VNET_VHOST_H */
