// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's rte_log type. Kept in its own object so the protocol and
// memory code (and their unit tests) can log without the ethdev.
#include "common/log.h"

RTE_LOG_REGISTER(vnet_logtype_vhost, pmd.net.vnet.vhost, NOTICE);
