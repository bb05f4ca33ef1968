// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// ModernPci (virtio 1.x 4.1.4): window mapping at open, the offer through
// the common config's feature select, feature commit with FEATURES_OK read
// back, per-queue set-up through common config (size, addresses, notify
// offset, enable), DRIVER_OK with the config-change vector restored, and
// device config reads bracketed by config_generation.
#include "pci/modern.h"

#include <rte_byteorder.h>
#include <rte_io.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>

#include "common/log.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::pci {

using virtio::bit;
using virtio::has;
namespace feat = virtio::feat;
namespace st = virtio::status;

uint32_t ModernPci::rd32(uint32_t off) { return rte_le_to_cpu_32(rte_read32(common_ + off)); }
uint16_t ModernPci::rd16(uint32_t off) { return rte_le_to_cpu_16(rte_read16(common_ + off)); }
void ModernPci::wr32(uint32_t off, uint32_t v) { rte_write32(rte_cpu_to_le_32(v), common_ + off); }
void ModernPci::wr16(uint32_t off, uint16_t v) { rte_write16(rte_cpu_to_le_16(v), common_ + off); }
// 4.1.3.1: 64-bit fields are written as two 32-bit halves, low first.
void ModernPci::wr64(uint32_t lo, uint64_t v) {
  wr32(lo, static_cast<uint32_t>(v));
  wr32(lo + 4, static_cast<uint32_t>(v >> 32));
}
uint8_t ModernPci::status() { return rte_read8(common_ + common::STATUS); }
void ModernPci::set_status(uint8_t s) { rte_write8(s, common_ + common::STATUS); }
uint8_t ModernPci::read_isr() { return isr_ ? rte_read8(isr_) : 0; }

uint64_t ModernPci::transport_features() const {
  // Addresses handed to the device are IOVAs (PA, or VA mapped by the
  // IOMMU): exactly what ACCESS_PLATFORM asks of the driver (6.1).
  return bit(feat::ACCESS_PLATFORM);
}

int ModernPci::map_window(const VirtioCap& c, uint64_t need, uint8_t** out) {
  const rte_mem_resource& r = dev_->mem_resource[c.bar];
  if (r.addr == nullptr || r.len == 0) {
    VNET_PCI_LOG(ERR, "%s: %s window in BAR %u, which bus_pci did not map (an I/O BAR?)", dev_->name,
                 cap_type_name(c.type), c.bar);
    return -ENODEV;
  }
  if (c.length < need || c.offset + c.length > r.len) {
    VNET_PCI_LOG(
        ERR, "%s: %s window 0x%" PRIx64 "+0x%" PRIx64 " does not fit BAR %u (0x%" PRIx64 " bytes, need 0x%" PRIx64 ")",
        dev_->name, cap_type_name(c.type), c.offset, c.length, c.bar, r.len, need);
    return -EINVAL;
  }
  *out = static_cast<uint8_t*>(r.addr) + c.offset;
  return 0;
}

int ModernPci::map_windows() {
  int rc = map_window(*ci_.get(ci_.common), common::MIN_LEN, &common_);
  if (rc == 0) rc = map_window(*ci_.get(ci_.isr), 1, &isr_);
  if (rc == 0) rc = map_window(*ci_.get(ci_.notify), 2, &notify_base_);
  if (rc == 0 && ci_.device_cfg >= 0) {
    const VirtioCap& d = *ci_.get(ci_.device_cfg);
    rc = map_window(d, 0, &device_);
    device_len_ = static_cast<uint32_t>(d.length);
  }
  if (rc != 0) common_ = nullptr;  // nothing to reset through
  return rc;
}

uint32_t ModernPci::first_pair_ring_size() {
  uint32_t qmax = virtio::PACKED_MAX_SIZE;
  for (uint16_t q = 0; q < 2; ++q) {
    wr16(common::Q_SELECT, q);
    const uint16_t s = rd16(common::Q_SIZE);
    if (s == 0) {
      VNET_PCI_LOG(ERR, "%s: virtqueue %u not available", dev_->name, q);
      return 0;
    }
    qmax = std::min<uint32_t>(qmax, s);
  }
  return qmax;
}

int ModernPci::open_interface() {
  if (const int rc = map_windows(); rc != 0) return rc;
  // 3.1.1: reset, ACKNOWLEDGE, DRIVER, then read the offer.
  if (const int rc = restart_handshake(); rc != 0) return rc;
  wr32(common::DFSELECT, 0);
  uint64_t f = rd32(common::DF);
  wr32(common::DFSELECT, 1);
  f |= uint64_t{rd32(common::DF)} << 32;
  dev_features_ = f;
  max_qp_ = offered_queue_pairs();
  num_queues_ = count_queues();
  if (num_queues_ < 2) {
    VNET_PCI_LOG(ERR, "%s: device has %u virtqueues, virtio-net needs at least 2", dev_->name, num_queues_);
    return -ENODEV;
  }
  // The largest ring both queues of the first pair accept (0 = queue absent).
  max_qsize_ = first_pair_ring_size();
  if (max_qsize_ == 0) return -ENODEV;
  VNET_PCI_LOG(INFO,
               "%s: virtio-pci modern %04x:%04x, features 0x%" PRIx64
               ", %u virtqueues, ring size <= %u, "
               "%u queue pairs, notify multiplier %u, %s",
               dev_->name, ci_.vendor, ci_.device, f, num_queues_, max_qsize_, max_qp_,
               ci_.get(ci_.notify)->notify_off_multiplier, ci_.msix ? "MSI-X" : "INTx only");
  return 0;
}

uint16_t ModernPci::count_queues() { return rd16(common::NUM_QUEUES); }

int ModernPci::negotiate(uint64_t features) {
  if (!has(features, feat::VERSION_1)) {
    VNET_PCI_LOG(ERR, "%s: modern virtio-pci requires VIRTIO_F_VERSION_1", dev_->name);
    return -ENOTSUP;
  }
  if (status() & (st::FEATURES_OK | st::DRIVER_OK) || needs_renegotiation_) {
    // 3.1.1: features are committed once per reset.
    if (const int rc = restart_handshake(); rc != 0) return rc;
  }
  wr32(common::GFSELECT, 0);
  wr32(common::GF, static_cast<uint32_t>(features));
  wr32(common::GFSELECT, 1);
  wr32(common::GF, static_cast<uint32_t>(features >> 32));
  set_status(st::ACKNOWLEDGE | st::DRIVER | st::FEATURES_OK);
  if (!(status() & st::FEATURES_OK)) {  // 3.1.1 step 6: the device may refuse the subset
    set_status(st::FAILED);
    VNET_PCI_LOG(ERR, "%s: device refused features 0x%" PRIx64, dev_->name, features);
    return -ENOTSUP;
  }
  return 0;
}

int ModernPci::setup_ring(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  wr16(common::Q_SELECT, vq);
  const uint16_t max = rd16(common::Q_SIZE);
  if (a.size == 0 || a.size > max) {
    VNET_PCI_LOG(ERR, "%s: virtqueue %u: ring of %u entries, the device takes at most %u", dev_->name, vq, a.size, max);
    return -EINVAL;
  }
  wr16(common::Q_SIZE, static_cast<uint16_t>(a.size));
  if (ci_.msix) {
    // Poll mode: no interrupt for used buffers (4.1.4.3: NO_VECTOR).
    wr16(common::Q_MSIX, common::NO_VECTOR);
  }
  wr64(common::Q_DESCLO, a.desc);
  wr64(common::Q_AVAILLO, a.avail);
  wr64(common::Q_USEDLO, a.used);
  const uint16_t noff = rd16(common::Q_NOFF);
  const VirtioCap& nc = *ci_.get(ci_.notify);
  uint64_t off = 0;
  if (notify_offset(nc, noff, 2, &off) != 0) {
    VNET_PCI_LOG(ERR, "%s: virtqueue %u: notify offset %u x %u lies outside the notify window", dev_->name, vq, noff,
                 nc.notify_off_multiplier);
    return -EINVAL;
  }
  kick->fd = -1;
  kick->mmio = reinterpret_cast<volatile uint16_t*>(notify_base_ + (off - nc.offset));
  kick->value = vq;  // without NOTIFICATION_DATA the register takes the queue index
  wr16(common::Q_ENABLE, 1);
  return 0;
}

int ModernPci::driver_ok() {
  if (config_vector_ != common::NO_VECTOR && set_config_vector(config_vector_) != 0)
    VNET_PCI_LOG(WARNING, "%s: config-change vector not accepted after reset; link changes need polling", dev_->name);
  set_status(st::ACKNOWLEDGE | st::DRIVER | st::FEATURES_OK | st::DRIVER_OK);
  const uint8_t s = status();
  if (s & (st::DEVICE_NEEDS_RESET | st::FAILED) || !(s & st::DRIVER_OK)) {
    VNET_PCI_LOG(ERR, "%s: device did not accept DRIVER_OK (status 0x%02x)", dev_->name, s);
    return -EIO;
  }
  return 0;
}

bool ModernPci::read_device_cfg(void* dst, uint32_t off, uint32_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  if (!device_ || off + len > device_len_) return false;
  // 4.1.4.3.1 / 2.5.1: retry until config_generation is stable around the read.
  for (int tries = 0; tries < 16; ++tries) {
    const uint8_t g0 = rte_read8(common_ + common::CFG_GENERATION);
    for (uint32_t i = 0; i < len; ++i) d[i] = rte_read8(device_ + off + i);
    if (rte_read8(common_ + common::CFG_GENERATION) == g0) return true;
  }
  return false;
}

uint32_t ModernPci::net_config_len() const { return std::min<uint32_t>(device_len_, sizeof(virtio::NetConfig)); }

int ModernPci::set_config_vector(uint16_t v) {
  wr16(common::MSIX, v);
  if (rd16(common::MSIX) != v) return -ENOSPC;  // 4.1.5.1.2: the device could not map it
  config_vector_ = v;
  return 0;
}

}  // namespace vnet::pci
