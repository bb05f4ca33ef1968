// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// rte_log types of the driver, one per component (registered in log.cc).
#pragma once

#include <rte_log.h>

extern int vnet_logtype_net;
extern int vnet_logtype_ring;
extern int vnet_logtype_user;

#define VNET_LOG(level, fmt, ...) \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(vnet_logtype_net), "vnet: " fmt "\n", ##__VA_ARGS__)
#define VNET_USER_LOG(level, fmt, ...) \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(vnet_logtype_user), "vnet_user: " fmt "\n", ##__VA_ARGS__)
