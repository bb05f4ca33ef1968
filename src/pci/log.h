// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// rte_log type of the PCI transport and driver (pmd.net.vnet.pci,
// registered in pci/driver.cc).
#pragma once

#include <rte_log.h>

extern int vnet_logtype_pci;

#define VNET_PCI_LOG(level, fmt, ...) \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(vnet_logtype_pci), "vnet_pci: " fmt "\n", ##__VA_ARGS__)
