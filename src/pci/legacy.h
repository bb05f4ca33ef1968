// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// LegacyPci: the ops of a transitional virtio-pci device without the modern
// capabilities, through the legacy (virtio 0.9.5) I/O BAR 0 (rte_pci_ioport):
// 32 feature bits and no FEATURES_OK, fixed ring sizes, one page-aligned
// ring block given by its page number, no queue count register, MSI-X left
// disabled (so the device config stays at 0x14).
#pragma once

#include <cerrno>

#include "pci/transport.h"

namespace vnet::pci {

class LegacyPci final : public PciTransport {
 public:
  LegacyPci(rte_pci_device* dev, const ConfigInfo& ci) : PciTransport(dev, ci) {}
  ~LegacyPci() override;

  bool legacy() const override { return true; }
  uint64_t transport_features() const override { return 0; }
  uint8_t read_isr() override;

 private:
  int open_interface() override;
  bool mapped() const override { return io_mapped_; }
  uint8_t status() override;
  void set_status(uint8_t s) override;
  int negotiate(uint64_t features) override;
  uint16_t count_queues() override;
  int setup_ring(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) override;
  int driver_ok() override;
  bool read_device_cfg(void* dst, uint32_t off, uint32_t len) override;
  // mac, status, max_virtqueue_pairs: the rest did not exist.
  uint32_t net_config_len() const override { return 10; }
  // Legacy MSI-X moves the device config: not used.
  bool msix_config() const override { return false; }
  int set_config_vector(uint16_t) override { return -ENOTSUP; }

  uint8_t io8(uint32_t off);
  uint16_t io16(uint32_t off);
  uint32_t io32(uint32_t off);
  void io_wr8(uint32_t off, uint8_t v);
  void io_wr16(uint32_t off, uint16_t v);
  void io_wr32(uint32_t off, uint32_t v);
  static void port_kick(const net::Notifier& n);

  rte_pci_ioport io_{};  // BAR 0
  bool io_mapped_ = false;
};

}  // namespace vnet::pci
