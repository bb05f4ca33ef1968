// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: the split ring's device side against arbitrary ring
// memory written by a hostile driver. Harness and input format: device_fuzz.h.
#include "device_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vnet::fuzz::run_device<vnet::ring::SplitDriver>(data, size);
}
