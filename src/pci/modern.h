// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// ModernPci: the ops of a modern virtio-pci device (virtio 1.x 4.1.4), through
// the virtio vendor capabilities: common/notify/ISR/device windows in memory
// BARs mapped by bus_pci, each checked to fit its BAR. Register accesses use
// rte_read/rte_write, which order MMIO against the ring memory written before
// them; device config reads are retried until config_generation is stable.
#pragma once

#include "pci/transport.h"

namespace vnet::pci {

class ModernPci final : public PciTransport {
 public:
  ModernPci(rte_pci_device* dev, const ConfigInfo& ci) : PciTransport(dev, ci) {}
  ~ModernPci() override { shut_down(); }

  uint64_t transport_features() const override;
  uint8_t read_isr() override;

 private:
  int open_interface() override;
  bool mapped() const override { return common_ != nullptr; }
  uint8_t status() override;
  void set_status(uint8_t s) override;
  int negotiate(uint64_t features) override;
  uint16_t count_queues() override;
  int setup_ring(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) override;
  int driver_ok() override;
  bool read_device_cfg(void* dst, uint32_t off, uint32_t len) override;
  uint32_t net_config_len() const override;
  bool msix_config() const override { return true; }
  int set_config_vector(uint16_t v) override;

  int map_window(const VirtioCap& c, uint64_t need, uint8_t** out);
  int map_windows();
  // The largest ring both queues of the first pair accept; 0 when one is absent.
  uint32_t first_pair_ring_size();
  uint32_t rd32(uint32_t off);
  uint16_t rd16(uint32_t off);
  void wr32(uint32_t off, uint32_t v);
  void wr16(uint32_t off, uint16_t v);
  void wr64(uint32_t lo, uint64_t v);

  uint8_t* common_ = nullptr;
  uint8_t* isr_ = nullptr;
  uint8_t* device_ = nullptr;
  uint32_t device_len_ = 0;
  uint8_t* notify_base_ = nullptr;              // BAR address of notify.offset
  uint16_t config_vector_ = common::NO_VECTOR;  // restored after every reset
};

}  // namespace vnet::pci
