// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// LegacyPci (virtio 0.9.5 over I/O BAR 0, 4.1.4.8 "Legacy Interfaces"): the
// port mapped at open, fixed ring sizes checked equal and powers of two,
// 32-bit feature commit (no FEATURES_OK), one page-aligned ring block per
// queue given by its page number, kicks through an I/O port write.
#include "pci/legacy.h"

#include <algorithm>
#include <cinttypes>

#include "common/log.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::pci {

namespace st = virtio::status;

LegacyPci::~LegacyPci() {
  shut_down();
  if (io_mapped_) rte_pci_ioport_unmap(&io_);
}

// Legacy registers are little-endian on the wire only by accident of x86:
// virtio 0.9.5 fields are guest-native (2.4.3 / 4.1.4.8 "Legacy Interfaces").
uint8_t LegacyPci::io8(uint32_t off) {
  uint8_t v = 0;
  rte_pci_ioport_read(&io_, &v, 1, off);
  return v;
}
uint16_t LegacyPci::io16(uint32_t off) {
  uint16_t v = 0;
  rte_pci_ioport_read(&io_, &v, 2, off);
  return v;
}
uint32_t LegacyPci::io32(uint32_t off) {
  uint32_t v = 0;
  rte_pci_ioport_read(&io_, &v, 4, off);
  return v;
}
void LegacyPci::io_wr8(uint32_t off, uint8_t v) { rte_pci_ioport_write(&io_, &v, 1, off); }
void LegacyPci::io_wr16(uint32_t off, uint16_t v) { rte_pci_ioport_write(&io_, &v, 2, off); }
void LegacyPci::io_wr32(uint32_t off, uint32_t v) { rte_pci_ioport_write(&io_, &v, 4, off); }

void LegacyPci::port_kick(const net::Notifier& n) {
  const uint16_t v = n.value;
  rte_pci_ioport_write(static_cast<rte_pci_ioport*>(n.ctx), &v, 2, legacy::QUEUE_NOTIFY);
}

uint8_t LegacyPci::status() { return io8(legacy::STATUS); }
void LegacyPci::set_status(uint8_t s) { io_wr8(legacy::STATUS, s); }
uint8_t LegacyPci::read_isr() { return io8(legacy::ISR); }

int LegacyPci::open_interface() {
  if (rte_pci_ioport_map(dev_, 0, &io_) != 0) {
    VNET_PCI_LOG(ERR, "%s: legacy device: cannot map I/O BAR 0 (bound to uio_pci_generic or vfio-pci?)", dev_->name);
    return -EIO;
  }
  io_mapped_ = true;
  if (const int rc = restart_handshake(); rc != 0) return rc;
  dev_features_ = io32(legacy::HOST_FEATURES);
  // The ring size is the device's, fixed (legacy drivers cannot choose).
  uint32_t qsize = 0;
  for (uint16_t q = 0; q < 2; ++q) {
    io_wr16(legacy::QUEUE_SEL, q);
    const uint16_t s = io16(legacy::QUEUE_NUM);
    if (s == 0 || (qsize && s != qsize) || (s & (s - 1)) != 0) {
      VNET_PCI_LOG(ERR, "%s: legacy device: virtqueue %u has size %u (absent, unequal or not a power of two)",
                   dev_->name, q, s);
      return -ENODEV;
    }
    qsize = s;
  }
  max_qsize_ = qsize;
  max_qp_ = offered_queue_pairs();
  num_queues_ = count_queues();
  VNET_PCI_LOG(INFO,
               "%s: virtio-pci legacy %04x:%04x (I/O BAR 0), features 0x%" PRIx64
               ", ring size %u (fixed), "
               "%u virtqueues, %u queue pairs",
               dev_->name, ci_.vendor, ci_.device, dev_features_, max_qsize_, num_queues_, max_qp_);
  return 0;
}

uint16_t LegacyPci::count_queues() {
  // No queue count register: the virtqueues are the indexes whose size
  // reads non-zero (the data pairs, then the control queue).
  const uint32_t most = std::min<uint32_t>(2u * max_qp_ + 1u, UINT16_MAX);
  uint32_t n = 2;
  for (; n < most; ++n) {
    io_wr16(legacy::QUEUE_SEL, static_cast<uint16_t>(n));
    if (io16(legacy::QUEUE_NUM) == 0) break;
  }
  return static_cast<uint16_t>(n);
}

int LegacyPci::negotiate(uint64_t features) {
  if (features >> 32) return -EINVAL;  // 32 feature bits, no VERSION_1
  if (needs_renegotiation_ || status() & st::DRIVER_OK) {
    if (const int rc = restart_handshake(); rc != 0) return rc;
  }
  io_wr32(legacy::GUEST_FEATURES, static_cast<uint32_t>(features));
  return 0;
}

int LegacyPci::setup_ring(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  io_wr16(legacy::QUEUE_SEL, vq);
  const uint16_t n = io16(legacy::QUEUE_NUM);
  if (a.size != n) {
    VNET_PCI_LOG(ERR, "%s: legacy virtqueue %u has a fixed size of %u; %u asked (queue_size / nb_desc must be %u)",
                 dev_->name, vq, n, a.size, n);
    return -EINVAL;
  }
  // One page-aligned block: desc, avail, then used at the next 4096 boundary.
  const auto l = virtio::SplitLayout::make(n, legacy::VRING_ALIGN);
  if (a.desc % legacy::VRING_ALIGN != 0 || a.avail != a.desc + l.avail_off || a.used != a.desc + l.used_off ||
      (a.desc >> legacy::PFN_SHIFT) > UINT32_MAX) {
    VNET_PCI_LOG(ERR,
                 "%s: legacy virtqueue %u: ring at 0x%" PRIx64 " is not one page-aligned legacy block below 16 TiB",
                 dev_->name, vq, a.desc);
    return -EINVAL;
  }
  io_wr32(legacy::QUEUE_PFN, static_cast<uint32_t>(a.desc >> legacy::PFN_SHIFT));
  kick->fd = -1;
  kick->mmio = nullptr;
  kick->value = vq;
  kick->write = port_kick;
  kick->ctx = &io_;
  return 0;
}

int LegacyPci::driver_ok() {
  set_status(st::ACKNOWLEDGE | st::DRIVER | st::DRIVER_OK);
  return status() & st::DRIVER_OK ? 0 : -EIO;
}

bool LegacyPci::read_device_cfg(void* dst, uint32_t off, uint32_t len) {
  // No generation counter in legacy; MSI-X stays disabled (no vectors are
  // set up), so the device config starts at 0x14.
  if (off + len > sizeof(virtio::NetConfig)) return false;
  auto* d = static_cast<uint8_t*>(dst);
  for (uint32_t i = 0; i < len; ++i) d[i] = io8(legacy::CONFIG + off + i);
  return true;
}

}  // namespace vnet::pci
