// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// PciTransport, the part both register interfaces share: open() picks the
// ops (modern or legacy) once; the status handshake (3.1.1), feature commit
// and queue set-up sequences call them; stop resets and marks the features
// for a new commit; the link-state interrupt and its INTx masking.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "pci/transport.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "common/c_entry.h"
#include "common/log.h"
#include "pci/legacy.h"
#include "pci/modern.h"
#include "virtio/features.h"

namespace vnet::pci {

using virtio::has;
namespace feat = virtio::feat;
namespace st = virtio::status;

namespace {
constexpr off_t kPciCommand = 0x04;                 // PCI 3.0 6.2.2, 16 bits
constexpr uint16_t kCommandIntxDisable = 1u << 10;  // Interrupt Disable
}  // namespace

int PciTransport::open(rte_pci_device* dev, PciTransport** out) {
  *out = nullptr;
  uint8_t cfg[256];
  const int n = rte_pci_read_config(dev, cfg, sizeof cfg, 0);
  if (n < 64) {
    VNET_PCI_LOG(ERR, "%s: cannot read config space (%d)", dev->name, n);
    return -EIO;
  }
  ConfigInfo ci;
  if (parse_config(std::span<const uint8_t>(cfg, static_cast<size_t>(n)), &ci) != 0) {
    VNET_PCI_LOG(ERR, "%s: config space holds no device", dev->name);
    return -ENODEV;
  }
  if (ci.problems)
    VNET_PCI_LOG(WARNING, "%s: %u malformed virtio capabilities skipped; first at 0x%02x: %s", dev->name, ci.problems,
                 ci.first_problem_pos, ci.first_problem);
  PciTransport* t = nullptr;
  if (ci.modern()) {
    t = new (std::nothrow) ModernPci(dev, ci);
  } else if (is_transitional(ci.device) && ci.bars[0].io) {
    t = new (std::nothrow) LegacyPci(dev, ci);
  } else {
    VNET_PCI_LOG(ERR,
                 "%s: no modern virtio interface (common/notify/ISR capabilities missing) and no legacy "
                 "I/O BAR 0",
                 dev->name);
    return -ENOTSUP;
  }
  if (!t) return -ENOMEM;
  if (const int rc = t->open_interface(); rc != 0) {
    delete t;
    return rc;
  }
  *out = t;
  return 0;
}

PciTransport::~PciTransport() { stop_lsc(); }

void PciTransport::stop_lsc() {
  if (!lsc_on_) return;
  // The callback first (waited for): once it is gone nothing unmasks
  // behind the mask below.
  rte_intr_callback_unregister_sync(dev_->intr_handle, c_entry<on_interrupt>, this);
  if (own_intx_)
    intx_mask(true);
  else
    rte_intr_disable(dev_->intr_handle);
  lsc_on_ = false;
  own_intx_ = false;
}

void PciTransport::shut_down() {
  stop_lsc();
  if (mapped()) reset();
}

int PciTransport::reset() {
  set_status(0);
  // 4.1.4.3.2: wait for device_status to read back 0 before re-initialising.
  for (int ms = 0; ms < 3000; ++ms) {
    if (status() == 0) return 0;
    rte_delay_ms(1);
  }
  VNET_PCI_LOG(ERR, "%s: device did not complete reset within 3 s", dev_->name);
  return -ETIMEDOUT;
}

int PciTransport::restart_handshake() {
  if (const int rc = reset(); rc != 0) return rc;
  set_status(st::ACKNOWLEDGE);
  set_status(st::ACKNOWLEDGE | st::DRIVER);
  return 0;
}

uint16_t PciTransport::offered_queue_pairs() {
  if (!has(dev_features_, feat::NET_MQ)) return 1;
  virtio::le16 v{};
  if (!read_device_cfg(&v, offsetof(virtio::NetConfig, max_virtqueue_pairs), 2)) return 1;
  // 5.1.4 allows 1..0x8000, but the control queue's index 2 * 0x8000 does
  // not fit queue_select: a device saying 0, or that, gets one pair.
  return v.get() >= 1 && v.get() < 0x8000 ? v.get() : 1;
}

bool PciTransport::uses_va() const { return rte_eal_iova_mode() == RTE_IOVA_VA; }

int PciTransport::commit(uint64_t features) {
  if (const int rc = negotiate(features); rc != 0) return rc;
  needs_renegotiation_ = false;
  // QEMU adds the pairs beyond the first only once MQ is negotiated.
  num_queues_ = count_queues();
  return 0;
}

int PciTransport::set_features(uint64_t features) {
  if (features & ~dev_features_) return -EINVAL;
  if (const int rc = commit(features); rc != 0) return rc;
  features_ = features;
  features_set_ = true;
  return 0;
}

int PciTransport::setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  if (!features_set_) return -EINVAL;
  if (needs_renegotiation_) {  // the device was reset by stop(): back to FEATURES_OK
    if (const int rc = commit(features_); rc != 0) return rc;
  }
  if (vq >= num_queues_) {
    VNET_PCI_LOG(ERR, "%s: virtqueue %u beyond the device's %u", dev_->name, vq, num_queues_);
    return -EINVAL;
  }
  return setup_ring(vq, a, kick);
}

int PciTransport::start(uint16_t) {
  if (needs_renegotiation_) return -EINVAL;  // no queue was set up since the reset
  return driver_ok();
}

int PciTransport::stop() {
  // A reset is the only way to make a virtio 1.0 device let go of every ring
  // (queue_reset is optional); set-up and negotiation are redone at start.
  needs_renegotiation_ = true;
  return reset();
}

bool PciTransport::read_config(virtio::NetConfig* cfg) {
  *cfg = virtio::NetConfig{};
  const uint32_t n = net_config_len();
  return n >= 6 && read_device_cfg(cfg, 0, n);
}

bool PciTransport::link_up() {
  if (!has(features_set_ ? features_ : dev_features_, feat::NET_STATUS)) return true;  // 5.1.4: assume up
  virtio::le16 s{};
  if (!read_device_cfg(&s, offsetof(virtio::NetConfig, status), 2)) return false;
  return s.get() & virtio::NET_S_LINK_UP;
}

// uio_pci_generic masks INTx in its handler (sets the command register's
// Interrupt Disable bit when the status register shows the function's
// interrupt); the driver unmasks once it has consumed the cause. DPDK's
// rte_intr_enable/ack/disable for RTE_INTR_HANDLE_UIO_INTX flip that bit with
// a one-byte write at config offset 5. QEMU before the 2023 fix "pci: Fix
// the update of interrupt disable bit in PCI_COMMAND register" (Debian 12's
// 7.2 included) re-evaluates the INTx level only for config writes that
// cover offset 4, so a byte write that unmasks while the device holds its
// line asserted never raises the line: that interrupt is lost, and so is
// every later one (the device's own level does not change again). When the
// cause is then cleared (an ISR read, a reset), QEMU's per-PIRQ count drops
// below zero and holds the line asserted with no device behind it: the
// kernel's handler finds no pending interrupt 100,000 times and disables
// the line ("nobody cared"), for us and for whichever driver binds next.
// Writing the whole 16-bit register keeps QEMU's count in step, and real
// hardware latches either write the same. A read-modify-write: between the
// two the kernel's handler can only set the same bit (the bit is set while
// we unmask; when we mask it sets what we are about to write).
int PciTransport::intx_mask(bool mask) {
  uint16_t raw = 0;
  if (rte_pci_read_config(dev_, &raw, sizeof raw, kPciCommand) != static_cast<int>(sizeof raw)) {
    VNET_PCI_LOG(ERR, "%s: cannot read the PCI command register", dev_->name);
    return -EIO;
  }
  const uint16_t cmd = rte_le_to_cpu_16(raw);
  const uint16_t want = mask ? cmd | kCommandIntxDisable : cmd & ~kCommandIntxDisable;
  if (want == cmd) return 0;
  raw = rte_cpu_to_le_16(want);
  if (rte_pci_write_config(dev_, &raw, sizeof raw, kPciCommand) != static_cast<int>(sizeof raw)) {
    VNET_PCI_LOG(ERR, "%s: cannot %s INTx in the PCI command register", dev_->name, mask ? "mask" : "unmask");
    return -EIO;
  }
  return 0;
}

void PciTransport::on_interrupt(void* arg) {
  auto* t = static_cast<PciTransport*>(arg);
  // Reading the ISR acknowledges it (4.1.4.5) and lowers the device's INTx
  // level; a cause raised after this read keeps the level up, so the unmask
  // below delivers it as the next interrupt.
  const uint8_t isr = t->read_isr();
  if (t->own_intx_)
    t->intx_mask(false);
  else
    rte_intr_ack(t->dev_->intr_handle);
  if (!(isr & 2) && rte_intr_type_get(t->dev_->intr_handle) != RTE_INTR_HANDLE_VFIO_MSIX) return;
  // The ethdev re-reads the link under its port lock and raises LSC.
  t->ev_fn_(t->ev_arg_, net::TransportEvent::Config);
}

void PciTransport::set_event_handler(net::TransportEventFn fn, void* arg) {
  ev_fn_ = fn;
  ev_arg_ = arg;
}

int PciTransport::enable_lsc() {
  rte_intr_handle* h = dev_->intr_handle;
  if (!ev_fn_) {
    VNET_PCI_LOG(INFO, "%s: no event handler: link status is polled", dev_->name);
    return -ENOTSUP;
  }
  const int type = h ? rte_intr_type_get(h) : RTE_INTR_HANDLE_UNKNOWN;
  const bool msix = type == RTE_INTR_HANDLE_VFIO_MSIX && ci_.msix && msix_config();
  if (type != RTE_INTR_HANDLE_UIO_INTX && type != RTE_INTR_HANDLE_UIO && !msix) {
    VNET_PCI_LOG(INFO, "%s: no usable interrupt (handle type %d): link status is polled", dev_->name, type);
    return -ENOTSUP;
  }
  if (msix && set_config_vector(0) != 0) {
    VNET_PCI_LOG(INFO, "%s: device cannot route config changes to MSI-X vector 0: link status is polled", dev_->name);
    return -ENOTSUP;
  }
  // These and the event handler before the callback can run: the interrupt
  // thread reads them (registering hands them over: it wakes that thread
  // through a pipe).
  // uio_pci_generic: INTx is unmasked by a 16-bit command write (see
  // intx_mask), not by rte_intr_enable/ack's byte write; igb_uio and
  // vfio-pci unmask in the kernel.
  lsc_on_ = true;
  own_intx_ = type == RTE_INTR_HANDLE_UIO_INTX;
  if (int rc = rte_intr_callback_register(h, c_entry<on_interrupt>, this); rc != 0) {
    VNET_PCI_LOG(INFO, "%s: cannot register the interrupt callback (%d): link status is polled", dev_->name, rc);
    lsc_on_ = false;
    own_intx_ = false;
    if (msix) set_config_vector(common::NO_VECTOR);
    return -ENOTSUP;
  }
  if (int rc = own_intx_ ? intx_mask(false) : rte_intr_enable(h); rc != 0) {
    VNET_PCI_LOG(INFO, "%s: cannot enable the interrupt (%d): link status is polled", dev_->name, rc);
    rte_intr_callback_unregister_sync(h, c_entry<on_interrupt>, this);
    lsc_on_ = false;
    own_intx_ = false;
    if (msix) set_config_vector(common::NO_VECTOR);
    return -ENOTSUP;
  }
  return 0;
}

}  // namespace vnet::pci
