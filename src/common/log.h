// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// One rte_log macro family for every DPDK-facing layer: VNET_<LAYER>_LOG(level,
// fmt, ...) logs "<prefix>: " fmt "\n" at RTE_LOG_<level> under the layer's
// logtype, whose name (pmd.net.vnet*) is what users filter on (--log-level).
// The ring layer has no DPDK: net/log.cc bridges its sink to pmd.net.vnet.ring;
// the devargs walker (common/devargs.h) takes a driver's type and prefix at run time.
#pragma once

#include <rte_log.h>

#include <cstdint>

extern int vnet_logtype_net;    // pmd.net.vnet        (net/log.cc)
extern int vnet_logtype_ring;   // pmd.net.vnet.ring   (net/log.cc)
extern int vnet_logtype_user;   // pmd.net.vnet.user   (net/log.cc)
extern int vnet_logtype_pci;    // pmd.net.vnet.pci    (pci/driver.cc)
extern int vnet_logtype_vhost;  // pmd.net.vnet.vhost  (vhost/log.cc)

// The family's one shape: logtype vnet_logtype_<type>, a fixed prefix.
#define VNET_LOG_TYPE(type, prefix, level, fmt, ...) \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(vnet_logtype_##type), prefix ": " fmt "\n" __VA_OPT__(, ) __VA_ARGS__)

#define VNET_LOG(level, fmt, ...) VNET_LOG_TYPE(net, "vnet", level, fmt __VA_OPT__(, ) __VA_ARGS__)
#define VNET_USER_LOG(level, fmt, ...) VNET_LOG_TYPE(user, "vnet_user", level, fmt __VA_OPT__(, ) __VA_ARGS__)
#define VNET_PCI_LOG(level, fmt, ...) VNET_LOG_TYPE(pci, "vnet_pci", level, fmt __VA_OPT__(, ) __VA_ARGS__)
#define VNET_VHOST_LOG(level, fmt, ...) VNET_LOG_TYPE(vhost, "vnet_vhost", level, fmt __VA_OPT__(, ) __VA_ARGS__)
