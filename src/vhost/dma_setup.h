// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's `dmas=` devarg and its dmadevs: parsing the queue -> (dmadev,
// vchan) map, configuring and starting each dmadev once per port, and giving
// it back at close. A dmadev configured by anyone else is busy. Control path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vhost/port.h"

namespace vnet::vhost {

// One `dmas=` entry: queue (direction, index) -> dmadev vchan.
struct DmaSpec {
  bool tx;  // txq: fills the frontend's receive ring (enqueue); rxq: drains its transmit ring
  unsigned queue;
  int16_t dev;
  uint16_t vchan;
};

// `dmas=[txq0@dma_skeleton0-0;rxq0@3-0]`: queue@<dmadev name or id>-<vchan>,
// separated by ';' (or ','). The vchan is after the last '-'. 0, or a
// negative errno after a log line naming the entry.
int parse_dmas(const char* name, std::string list, unsigned queue_pairs, std::vector<DmaSpec>& out);

// Configure and start each dmadev named and give each ring its channel.
int setup_dma(const char* name, BackendPort* p, const std::vector<DmaSpec>& specs, uint32_t threshold);

// After the server stopped (no copy in flight): stop the port's dmadevs, mark
// them free for the next port of ours, free the channels' and rings' state.
void release_dma(BackendPort* p);

}  // namespace vnet::vhost
