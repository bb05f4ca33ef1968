// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// PciTransport: the net::Transport of a virtio-net PCI function driven
// through DPDK's bus_pci (uio_pci_generic, vfio-pci). What both register
// interfaces share lives here: the status handshake, feature commit and
// queue set-up sequences, the link-state interrupt and its INTx masking.
// The registers themselves are the ops of ModernPci (virtio capabilities,
// pci/modern.h) or LegacyPci (I/O BAR 0, pci/legacy.h), picked once by
// open(). The device is reset on stop and on destruction, so it never
// touches rings the driver has reclaimed.
#pragma once

#include <bus_pci_driver.h>

#include <cstdint>

#include "net/transport.h"
#include "pci/caps.h"

namespace vnet::pci {

class PciTransport : public net::Transport {
 public:
  // Decode config space and open the interface the device has: modern when
  // its virtio capabilities are there, else legacy for a transitional
  // device with an I/O BAR 0 (the one place the two are told apart). Resets
  // the device and reads its offer (status ACKNOWLEDGE|DRIVER). 0 and *out
  // (the caller's to delete), or -errno with a log line.
  static int open(rte_pci_device* dev, PciTransport** out);
  ~PciTransport() override;  // LSC interrupts off, if shut_down() did not

  const char* name() const final { return "virtio-pci"; }
  uint64_t device_features() const final { return dev_features_; }
  int set_features(uint64_t features) final;
  bool read_config(virtio::NetConfig* cfg) final;
  uint16_t max_queue_pairs() const final { return max_qp_; }
  uint32_t max_queue_size() const final { return max_qsize_; }
  bool uses_va() const final;
  int setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) final;
  int start(uint16_t nvqs) final;
  int stop() final;
  bool link_up() final;
  void set_event_handler(net::TransportEventFn fn, void* arg) final;

  // Read and clear the ISR (interrupt handler); bit 1 = configuration change.
  virtual uint8_t read_isr() = 0;
  // Link-state interrupts: configuration-change interrupts (INTx through
  // uio_pci_generic, MSI-X vector 0 through vfio-pci) are reported as
  // TransportEvent::Config to the event handler, which must be set first.
  // -ENOTSUP when the device has no usable interrupt (then link_update polls
  // the status field). Undone by the destructor.
  int enable_lsc();
  const ConfigInfo& config() const { return ci_; }
  uint16_t num_queues() const { return num_queues_; }

 protected:
  PciTransport(rte_pci_device* dev, const ConfigInfo& ci) : dev_(dev), ci_(ci) {}

  // ---- the ops: what the modern and legacy interfaces do differently ----
  // Map the registers, reset, ACKNOWLEDGE|DRIVER, read the offer, the queue
  // count and the ring size (open's second half). 0 or -errno, logged.
  virtual int open_interface() = 0;
  // Whether the registers are mapped: a reset can reach the device.
  virtual bool mapped() const = 0;
  virtual uint8_t status() = 0;
  virtual void set_status(uint8_t s) = 0;
  // Commit features (status reads ACKNOWLEDGE|DRIVER, or was reset to it
  // when features were committed before). 0 or -errno, logged.
  virtual int negotiate(uint64_t features) = 0;
  // The virtqueues the device has now.
  virtual uint16_t count_queues() = 0;
  // Program virtqueue vq (vq < num_queues_, features committed) and fill
  // its kick notifier.
  virtual int setup_ring(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) = 0;
  // Every queue set up: DRIVER_OK, checked. 0 or -EIO.
  virtual int driver_ok() = 0;
  // len bytes of the device-specific config at off; false when they are
  // not there or would not read consistently.
  virtual bool read_device_cfg(void* dst, uint32_t off, uint32_t len) = 0;
  // How much of struct virtio_net_config the device has.
  virtual uint32_t net_config_len() const = 0;
  // Whether MSI-X can carry config changes, and routing them to vector v
  // (common::NO_VECTOR: none). 0, -ENOSPC (refused) or -ENOTSUP.
  virtual bool msix_config() const = 0;
  virtual int set_config_vector(uint16_t v) = 0;

  // ---- for the ops -------------------------------------------------------
  // Write 0 to the status and wait for it to read back 0 (4.1.4.3.2).
  int reset();
  // reset(), then ACKNOWLEDGE and DRIVER (3.1.1 steps 1-3).
  int restart_handshake();
  // max_virtqueue_pairs when the device offers VIRTIO_NET_F_MQ, else 1.
  uint16_t offered_queue_pairs();
  // A derived destructor's first step: LSC interrupts off (the callback
  // waited for), then a reset when the registers are mapped.
  void shut_down();

  rte_pci_device* const dev_;
  const ConfigInfo ci_;
  uint64_t dev_features_ = 0;
  bool needs_renegotiation_ = false;  // reset by stop(): FEATURES_OK must be redone
  uint16_t num_queues_ = 0;
  uint16_t max_qp_ = 1;
  uint32_t max_qsize_ = 0;

 private:
  void stop_lsc();
  // negotiate(), then the state a fresh commit leaves.
  int commit(uint64_t features);
  // Set (mask) or clear the Interrupt Disable bit with a 16-bit write of the
  // PCI command register. 0 or -EIO with a log line.
  int intx_mask(bool mask);
  static void on_interrupt(void* arg);

  uint64_t features_ = 0;
  bool features_set_ = false;
  net::TransportEventFn ev_fn_ = nullptr;  // the ethdev's handler (set before enable_lsc)
  void* ev_arg_ = nullptr;
  bool lsc_on_ = false;    // interrupt callback registered
  bool own_intx_ = false;  // uio_pci_generic: INTx (un)masked by intx_mask
};

}  // namespace vnet::pci
