// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Logging of the built-in vhost-user backend: one rte_log type
// (pmd.net.vnet.vhost), registered in log.cc. Control-path errors log what
// was wrong; data-path errors are counted and rate limited by the ring layer.
#pragma once

#include <rte_log.h>

extern int vnet_logtype_vhost;

#define VHOST_LOG(level, fmt, ...)                                    \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(vnet_logtype_vhost), \
          "vnet_vhost: " fmt "\n" __VA_OPT__(, ) __VA_ARGS__)
