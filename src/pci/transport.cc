// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// PciTransport (modern virtio-pci, virtio 1.x 4.1): config-space decode at
// open, the status handshake (3.1.1), feature commit with FEATURES_OK read
// back, per-queue set-up through common config, DRIVER_OK at start and a
// reset (waited for) at stop; the link-state interrupt and its INTx masking.
// Register accesses use rte_read/rte_write, which order MMIO against the
// ring memory written before them.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "pci/transport.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_io.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "common/c_entry.h"
#include "common/log.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::pci {

using virtio::bit;
using virtio::has;
namespace feat = virtio::feat;
namespace st = virtio::status;

namespace {
constexpr off_t kPciCommand = 0x04;                 // PCI 3.0 6.2.2, 16 bits
constexpr uint16_t kCommandIntxDisable = 1u << 10;  // Interrupt Disable
}  // namespace

PciTransport::~PciTransport() {
  if (lsc_dev_) {
    // The callback first (waited for): once it is gone nothing unmasks
    // behind the mask below.
    rte_intr_callback_unregister_sync(dev_->intr_handle, c_entry<on_interrupt>, this);
    if (own_intx_)
      intx_mask(true);
    else
      rte_intr_disable(dev_->intr_handle);
  }
  if (common_ || io_mapped_) reset();
  if (io_mapped_) rte_pci_ioport_unmap(&io_);
}

// Legacy registers are little-endian on the wire only by accident of x86:
// virtio 0.9.5 fields are guest-native (2.4.3 / 4.1.4.8 "Legacy Interfaces").
uint8_t PciTransport::io8(uint32_t off) {
  uint8_t v = 0;
  rte_pci_ioport_read(&io_, &v, 1, off);
  return v;
}
uint16_t PciTransport::io16(uint32_t off) {
  uint16_t v = 0;
  rte_pci_ioport_read(&io_, &v, 2, off);
  return v;
}
uint32_t PciTransport::io32(uint32_t off) {
  uint32_t v = 0;
  rte_pci_ioport_read(&io_, &v, 4, off);
  return v;
}
void PciTransport::io_wr8(uint32_t off, uint8_t v) { rte_pci_ioport_write(&io_, &v, 1, off); }
void PciTransport::io_wr16(uint32_t off, uint16_t v) { rte_pci_ioport_write(&io_, &v, 2, off); }
void PciTransport::io_wr32(uint32_t off, uint32_t v) { rte_pci_ioport_write(&io_, &v, 4, off); }

void PciTransport::legacy_kick(const net::Notifier& n) {
  const uint16_t v = n.value;
  rte_pci_ioport_write(static_cast<rte_pci_ioport*>(n.ctx), &v, 2, legacy::QUEUE_NOTIFY);
}

uint32_t PciTransport::rd32(uint32_t off) { return rte_le_to_cpu_32(rte_read32(common_ + off)); }
uint16_t PciTransport::rd16(uint32_t off) { return rte_le_to_cpu_16(rte_read16(common_ + off)); }
void PciTransport::wr32(uint32_t off, uint32_t v) { rte_write32(rte_cpu_to_le_32(v), common_ + off); }
void PciTransport::wr16(uint32_t off, uint16_t v) { rte_write16(rte_cpu_to_le_16(v), common_ + off); }
// 4.1.3.1: 64-bit fields are written as two 32-bit halves, low first.
void PciTransport::wr64(uint32_t lo, uint64_t v) {
  wr32(lo, static_cast<uint32_t>(v));
  wr32(lo + 4, static_cast<uint32_t>(v >> 32));
}
uint8_t PciTransport::status() { return legacy_ ? io8(legacy::STATUS) : rte_read8(common_ + common::STATUS); }
void PciTransport::set_status(uint8_t s) {
  if (legacy_)
    io_wr8(legacy::STATUS, s);
  else
    rte_write8(s, common_ + common::STATUS);
}
uint8_t PciTransport::read_isr() { return legacy_ ? io8(legacy::ISR) : isr_ ? rte_read8(isr_) : 0; }

uint64_t PciTransport::transport_features() const {
  // Addresses handed to the device are IOVAs (PA, or VA mapped by the
  // IOMMU): exactly what ACCESS_PLATFORM asks of the driver (6.1).
  return legacy_ ? 0 : bit(feat::ACCESS_PLATFORM);
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

int PciTransport::map_window(const VirtioCap& c, uint64_t need, uint8_t** out) {
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

int PciTransport::open(rte_pci_device* dev) {
  dev_ = dev;
  uint8_t cfg[256];
  const int n = rte_pci_read_config(dev, cfg, sizeof cfg, 0);
  if (n < 64) {
    VNET_PCI_LOG(ERR, "%s: cannot read config space (%d)", dev->name, n);
    return -EIO;
  }
  if (parse_config(std::span<const uint8_t>(cfg, static_cast<size_t>(n)), &ci_) != 0) {
    VNET_PCI_LOG(ERR, "%s: config space holds no device", dev->name);
    return -ENODEV;
  }
  if (ci_.problems)
    VNET_PCI_LOG(WARNING, "%s: %u malformed virtio capabilities skipped; first at 0x%02x: %s", dev->name, ci_.problems,
                 ci_.first_problem_pos, ci_.first_problem);
  if (ci_.modern()) return open_modern();
  if (is_transitional(ci_.device) && ci_.bars[0].io) return open_legacy();
  VNET_PCI_LOG(ERR,
               "%s: no modern virtio interface (common/notify/ISR capabilities missing) and no legacy "
               "I/O BAR 0",
               dev->name);
  return -ENOTSUP;
}

int PciTransport::open_legacy() {
  if (rte_pci_ioport_map(dev_, 0, &io_) != 0) {
    VNET_PCI_LOG(ERR, "%s: legacy device: cannot map I/O BAR 0 (bound to uio_pci_generic or vfio-pci?)", dev_->name);
    return -EIO;
  }
  io_mapped_ = true;
  legacy_ = true;
  if (const int rc = reset(); rc != 0) return rc;
  set_status(st::ACKNOWLEDGE);
  set_status(st::ACKNOWLEDGE | st::DRIVER);
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

int PciTransport::open_modern() {
  rte_pci_device* dev = dev_;
  const VirtioCap& nc = *ci_.get(ci_.notify);
  int rc = map_window(*ci_.get(ci_.common), common::MIN_LEN, &common_);
  if (rc == 0) rc = map_window(*ci_.get(ci_.isr), 1, &isr_);
  if (rc == 0) rc = map_window(nc, 2, &notify_base_);
  if (rc == 0 && ci_.device_cfg >= 0) {
    const VirtioCap& d = *ci_.get(ci_.device_cfg);
    rc = map_window(d, 0, &device_);
    device_len_ = static_cast<uint32_t>(d.length);
  }
  if (rc != 0) {
    common_ = nullptr;  // nothing to reset through
    return rc;
  }
  // 3.1.1: reset, ACKNOWLEDGE, DRIVER, then read the offer.
  if ((rc = reset()) != 0) return rc;
  set_status(st::ACKNOWLEDGE);
  set_status(st::ACKNOWLEDGE | st::DRIVER);
  wr32(common::DFSELECT, 0);
  uint64_t f = rd32(common::DF);
  wr32(common::DFSELECT, 1);
  f |= uint64_t{rd32(common::DF)} << 32;
  dev_features_ = f;
  max_qp_ = offered_queue_pairs();
  num_queues_ = count_queues();
  if (num_queues_ < 2) {
    VNET_PCI_LOG(ERR, "%s: device has %u virtqueues, virtio-net needs at least 2", dev->name, num_queues_);
    return -ENODEV;
  }
  // The largest ring both queues of the first pair accept (0 = queue absent).
  uint32_t qmax = virtio::PACKED_MAX_SIZE;
  for (uint16_t q = 0; q < 2; ++q) {
    wr16(common::Q_SELECT, q);
    const uint16_t s = rd16(common::Q_SIZE);
    if (s == 0) {
      VNET_PCI_LOG(ERR, "%s: virtqueue %u not available", dev->name, q);
      return -ENODEV;
    }
    qmax = std::min<uint32_t>(qmax, s);
  }
  max_qsize_ = qmax;
  VNET_PCI_LOG(INFO,
               "%s: virtio-pci modern %04x:%04x, features 0x%" PRIx64
               ", %u virtqueues, ring size <= %u, "
               "%u queue pairs, notify multiplier %u, %s",
               dev->name, ci_.vendor, ci_.device, f, num_queues_, max_qsize_, max_qp_, nc.notify_off_multiplier,
               ci_.msix ? "MSI-X" : "INTx only");
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

uint16_t PciTransport::count_queues() {
  if (!legacy_) return rd16(common::NUM_QUEUES);
  // Legacy has no queue count register: the virtqueues are the indexes whose
  // size reads non-zero (the data pairs, then the control queue).
  const uint32_t most = std::min<uint32_t>(2u * max_qp_ + 1u, UINT16_MAX);
  uint32_t n = 2;
  for (; n < most; ++n) {
    io_wr16(legacy::QUEUE_SEL, static_cast<uint16_t>(n));
    if (io16(legacy::QUEUE_NUM) == 0) break;
  }
  return static_cast<uint16_t>(n);
}

bool PciTransport::uses_va() const { return rte_eal_iova_mode() == RTE_IOVA_VA; }

int PciTransport::negotiate(uint64_t features) {
  if (legacy_) {
    if (features >> 32) return -EINVAL;  // 32 feature bits, no VERSION_1
    if (needs_renegotiation_ || status() & st::DRIVER_OK) {
      if (const int rc = reset(); rc != 0) return rc;
      set_status(st::ACKNOWLEDGE);
      set_status(st::ACKNOWLEDGE | st::DRIVER);
    }
    io_wr32(legacy::GUEST_FEATURES, static_cast<uint32_t>(features));
    needs_renegotiation_ = false;
    num_queues_ = count_queues();
    return 0;
  }
  if (!has(features, feat::VERSION_1)) {
    VNET_PCI_LOG(ERR, "%s: modern virtio-pci requires VIRTIO_F_VERSION_1", dev_->name);
    return -ENOTSUP;
  }
  if (status() & (st::FEATURES_OK | st::DRIVER_OK) || needs_renegotiation_) {
    // 3.1.1: features are committed once per reset.
    if (const int rc = reset(); rc != 0) return rc;
    set_status(st::ACKNOWLEDGE);
    set_status(st::ACKNOWLEDGE | st::DRIVER);
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
  needs_renegotiation_ = false;
  num_queues_ = count_queues();
  return 0;
}

int PciTransport::set_features(uint64_t features) {
  if (features & ~dev_features_) return -EINVAL;
  const int rc = negotiate(features);
  if (rc != 0) return rc;
  features_ = features;
  features_set_ = true;
  return 0;
}

int PciTransport::setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  if (!features_set_) return -EINVAL;
  if (needs_renegotiation_) {  // the device was reset by stop(): back to FEATURES_OK
    if (const int rc = negotiate(features_); rc != 0) return rc;
  }
  if (vq >= num_queues_) {
    VNET_PCI_LOG(ERR, "%s: virtqueue %u beyond the device's %u", dev_->name, vq, num_queues_);
    return -EINVAL;
  }
  if (legacy_) return setup_queue_legacy(vq, a, kick);
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
  uint64_t off = 0;
  if (notify_offset(*ci_.get(ci_.notify), noff, 2, &off) != 0) {
    VNET_PCI_LOG(ERR, "%s: virtqueue %u: notify offset %u x %u lies outside the notify window", dev_->name, vq, noff,
                 ci_.get(ci_.notify)->notify_off_multiplier);
    return -EINVAL;
  }
  const VirtioCap& nc = *ci_.get(ci_.notify);
  kick->fd = -1;
  kick->mmio = reinterpret_cast<volatile uint16_t*>(notify_base_ + (off - nc.offset));
  kick->value = vq;  // without NOTIFICATION_DATA the register takes the queue index
  wr16(common::Q_ENABLE, 1);
  return 0;
}

int PciTransport::setup_queue_legacy(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
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
  kick->write = legacy_kick;
  kick->ctx = &io_;
  return 0;
}

int PciTransport::start(uint16_t) {
  if (needs_renegotiation_) return -EINVAL;  // no queue was set up since the reset
  if (legacy_) {
    set_status(st::ACKNOWLEDGE | st::DRIVER | st::DRIVER_OK);
    return status() & st::DRIVER_OK ? 0 : -EIO;
  }
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

int PciTransport::stop() {
  // A reset is the only way to make a virtio 1.0 device let go of every ring
  // (queue_reset is optional); set-up and negotiation are redone at start.
  needs_renegotiation_ = true;
  return reset();
}

bool PciTransport::read_device_cfg(void* dst, uint32_t off, uint32_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  if (legacy_) {
    // No generation counter in legacy; MSI-X stays disabled (no vectors are
    // set up), so the device config starts at 0x14.
    if (off + len > sizeof(virtio::NetConfig)) return false;
    for (uint32_t i = 0; i < len; ++i) d[i] = io8(legacy::CONFIG + off + i);
    return true;
  }
  if (!device_ || off + len > device_len_) return false;
  // 4.1.4.3.1 / 2.5.1: retry until config_generation is stable around the read.
  for (int tries = 0; tries < 16; ++tries) {
    const uint8_t g0 = rte_read8(common_ + common::CFG_GENERATION);
    for (uint32_t i = 0; i < len; ++i) d[i] = rte_read8(device_ + off + i);
    if (rte_read8(common_ + common::CFG_GENERATION) == g0) return true;
  }
  return false;
}

bool PciTransport::read_config(virtio::NetConfig* cfg) {
  *cfg = virtio::NetConfig{};
  // Legacy: mac, status, max_virtqueue_pairs only (the rest did not exist).
  const uint32_t n = legacy_ ? 10u : std::min<uint32_t>(device_len_, sizeof *cfg);
  return n >= 6 && read_device_cfg(cfg, 0, n);
}

bool PciTransport::link_up() {
  if (!has(features_set_ ? features_ : dev_features_, feat::NET_STATUS)) return true;  // 5.1.4: assume up
  virtio::le16 s{};
  if (!read_device_cfg(&s, offsetof(virtio::NetConfig, status), 2)) return false;
  return s.get() & virtio::NET_S_LINK_UP;
}

int PciTransport::set_config_vector(uint16_t v) {
  if (legacy_) return -ENOTSUP;  // legacy MSI-X moves the device config; not used
  wr16(common::MSIX, v);
  if (rd16(common::MSIX) != v) return -ENOSPC;  // 4.1.5.1.2: the device could not map it
  config_vector_ = v;
  return 0;
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
  rte_eth_dev* eth = t->lsc_dev_;
  if (eth->dev_ops && eth->dev_ops->link_update) eth->dev_ops->link_update(eth, 0);
  rte_eth_dev_callback_process(eth, RTE_ETH_EVENT_INTR_LSC, nullptr);
}

int PciTransport::enable_lsc(rte_eth_dev* eth) {
  rte_intr_handle* h = dev_->intr_handle;
  const int type = h ? rte_intr_type_get(h) : RTE_INTR_HANDLE_UNKNOWN;
  const bool msix = type == RTE_INTR_HANDLE_VFIO_MSIX && ci_.msix;
  if ((type != RTE_INTR_HANDLE_UIO_INTX && type != RTE_INTR_HANDLE_UIO && !msix) || (legacy_ && msix)) {
    VNET_PCI_LOG(INFO, "%s: no usable interrupt (handle type %d): link status is polled", dev_->name, type);
    return -ENOTSUP;
  }
  if (msix && set_config_vector(0) != 0) {
    VNET_PCI_LOG(INFO, "%s: device cannot route config changes to MSI-X vector 0: link status is polled", dev_->name);
    return -ENOTSUP;
  }
  // Both before the callback can run: the interrupt thread reads them
  // (registering hands them over: it wakes that thread through a pipe).
  // uio_pci_generic: INTx is unmasked by a 16-bit command write (see
  // intx_mask), not by rte_intr_enable/ack's byte write; igb_uio and
  // vfio-pci unmask in the kernel.
  lsc_dev_ = eth;
  own_intx_ = type == RTE_INTR_HANDLE_UIO_INTX;
  if (int rc = rte_intr_callback_register(h, c_entry<on_interrupt>, this); rc != 0) {
    VNET_PCI_LOG(INFO, "%s: cannot register the interrupt callback (%d): link status is polled", dev_->name, rc);
    lsc_dev_ = nullptr;
    own_intx_ = false;
    if (msix) set_config_vector(common::NO_VECTOR);
    return -ENOTSUP;
  }
  if (int rc = own_intx_ ? intx_mask(false) : rte_intr_enable(h); rc != 0) {
    VNET_PCI_LOG(INFO, "%s: cannot enable the interrupt (%d): link status is polled", dev_->name, rc);
    rte_intr_callback_unregister_sync(h, c_entry<on_interrupt>, this);
    lsc_dev_ = nullptr;
    own_intx_ = false;
    if (msix) set_config_vector(common::NO_VECTOR);
    return -ENOTSUP;
  }
  return 0;
}

}  // namespace vnet::pci
