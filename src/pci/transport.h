// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// PciTransport: the net::Transport of a virtio-net PCI function driven
// through DPDK's bus_pci (uio_pci_generic, vfio-pci). Modern devices through
// the virtio vendor capabilities (common/notify/ISR/device windows in
// memory BARs mapped by bus_pci); transitional devices without them through
// the legacy I/O BAR 0 (rte_pci_ioport). The device is reset on stop and on
// destruction, so it never touches rings the driver has reclaimed.
#pragma once

#include <bus_pci_driver.h>
#include <ethdev_driver.h>

#include <cstdint>

#include "net/transport.h"
#include "pci/caps.h"

namespace vnet::pci {

class PciTransport final : public net::Transport {
 public:
  ~PciTransport() override;
  // Decode config space, locate the windows, reset the device and read its
  // offer (status ACKNOWLEDGE|DRIVER). 0 or -errno with a log line.
  int open(rte_pci_device* dev);

  const char* name() const override { return "virtio-pci"; }
  uint64_t device_features() const override { return dev_features_; }
  int set_features(uint64_t features) override;
  bool read_config(virtio::NetConfig* cfg) override;
  uint16_t max_queue_pairs() const override { return max_qp_; }
  uint32_t max_queue_size() const override { return max_qsize_; }
  bool uses_va() const override;
  int setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) override;
  int start(uint16_t nvqs) override;
  int stop() override;
  bool link_up() override;
  bool legacy() const override { return legacy_; }
  uint64_t transport_features() const override;

  // Read and clear the ISR (interrupt handler); bit 1 = configuration change.
  uint8_t read_isr();
  // Link-state interrupts: configuration-change interrupts (INTx through
  // uio_pci_generic, MSI-X vector 0 through vfio-pci) update eth's link and
  // raise RTE_ETH_EVENT_INTR_LSC. -ENOTSUP when the device has no usable
  // interrupt (then link_update polls the status field). Undone by the
  // destructor.
  int enable_lsc(rte_eth_dev* eth);
  const ConfigInfo& config() const { return ci_; }
  uint16_t num_queues() const { return num_queues_; }

 private:
  uint8_t status();
  void set_status(uint8_t s);
  int reset();
  int negotiate(uint64_t features);  // ACK|DRIVER, features, FEATURES_OK
  int map_window(const VirtioCap& c, uint64_t need, uint8_t** out);
  int open_modern();
  int open_legacy();
  // max_virtqueue_pairs when the device offers VIRTIO_NET_F_MQ, else 1.
  uint16_t offered_queue_pairs();
  // The virtqueues the device has now. QEMU adds the pairs beyond the first
  // only once MQ is negotiated, so this is read again after each negotiation.
  uint16_t count_queues();
  int setup_queue_legacy(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick);
  uint8_t io8(uint32_t off);
  uint16_t io16(uint32_t off);
  uint32_t io32(uint32_t off);
  void io_wr8(uint32_t off, uint8_t v);
  void io_wr16(uint32_t off, uint16_t v);
  void io_wr32(uint32_t off, uint32_t v);
  static void legacy_kick(const net::Notifier& n);
  uint32_t rd32(uint32_t off);
  uint16_t rd16(uint32_t off);
  void wr32(uint32_t off, uint32_t v);
  void wr16(uint32_t off, uint16_t v);
  void wr64(uint32_t lo, uint64_t v);
  bool read_device_cfg(void* dst, uint32_t off, uint32_t len);
  int set_config_vector(uint16_t v);
  // Set (mask) or clear the Interrupt Disable bit with a 16-bit write of the
  // PCI command register. 0 or -EIO with a log line.
  int intx_mask(bool mask);
  static void on_interrupt(void* arg);

  rte_pci_device* dev_ = nullptr;
  ConfigInfo ci_;
  uint8_t* common_ = nullptr;
  uint8_t* isr_ = nullptr;
  uint8_t* device_ = nullptr;
  uint32_t device_len_ = 0;
  uint8_t* notify_base_ = nullptr;  // BAR address of notify.offset
  uint64_t dev_features_ = 0;
  uint64_t features_ = 0;
  bool features_set_ = false;
  bool needs_renegotiation_ = false;  // reset by stop(): FEATURES_OK must be redone
  uint16_t num_queues_ = 0;
  uint16_t max_qp_ = 1;
  uint32_t max_qsize_ = 0;
  uint16_t config_vector_ = common::NO_VECTOR;  // restored after every reset
  rte_eth_dev* lsc_dev_ = nullptr;              // interrupt callback registered
  bool own_intx_ = false;                       // uio_pci_generic: INTx (un)masked by intx_mask
  bool legacy_ = false;
  rte_pci_ioport io_{};  // legacy: BAR 0
  bool io_mapped_ = false;
};

}  // namespace vnet::pci
