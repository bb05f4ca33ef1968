// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Virtio PCI config-space decoding (virtio 1.x section 4.1.4), shared by the
// net_vnet PCI transport and tools/vnet-pci. Pure functions over a config
// space byte buffer: no DPDK, no I/O. Nothing in the buffer is trusted: the
// capability walk is bounded, every structure must fit inside the buffer,
// and a malformed capability is skipped and counted, never dereferenced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vnet::pci {

inline constexpr uint16_t kVirtioVendor = 0x1af4;
inline constexpr uint16_t kVirtioNetModernId = 0x1041;  // 0x1040 + device type 1
inline constexpr uint16_t kVirtioNetTransitionalId = 0x1000;

// virtio_pci_cap.cfg_type (4.1.4).
namespace cap_type {
inline constexpr uint8_t COMMON = 1;
inline constexpr uint8_t NOTIFY = 2;
inline constexpr uint8_t ISR = 3;
inline constexpr uint8_t DEVICE = 4;
inline constexpr uint8_t PCI_CFG = 5;
inline constexpr uint8_t SHARED_MEMORY = 8;
inline constexpr uint8_t VENDOR = 9;
}  // namespace cap_type
const char* cap_type_name(uint8_t type);  // "common", ..., "reserved"

// Offsets in struct virtio_pci_common_cfg (4.1.4.3).
namespace common {
inline constexpr uint32_t DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c;
inline constexpr uint32_t MSIX = 0x10, NUM_QUEUES = 0x12, STATUS = 0x14, CFG_GENERATION = 0x15;
inline constexpr uint32_t Q_SELECT = 0x16, Q_SIZE = 0x18, Q_MSIX = 0x1a, Q_ENABLE = 0x1c, Q_NOFF = 0x1e;
inline constexpr uint32_t Q_DESCLO = 0x20, Q_DESCHI = 0x24, Q_AVAILLO = 0x28, Q_AVAILHI = 0x2c;
inline constexpr uint32_t Q_USEDLO = 0x30, Q_USEDHI = 0x34;
inline constexpr uint32_t MIN_LEN = 0x38;  // up to queue_device: what a 1.0 device must provide
inline constexpr uint16_t NO_VECTOR = 0xffff;
}  // namespace common

// Offsets in the legacy (virtio 0.9.5) I/O BAR 0, without MSI-X enabled.
namespace legacy {
inline constexpr uint32_t HOST_FEATURES = 0x00, GUEST_FEATURES = 0x04, QUEUE_PFN = 0x08, QUEUE_NUM = 0x0c;
inline constexpr uint32_t QUEUE_SEL = 0x0e, QUEUE_NOTIFY = 0x10, STATUS = 0x12, ISR = 0x13;
inline constexpr uint32_t CONFIG = 0x14;  // device config (0x18 when MSI-X is enabled)
inline constexpr uint32_t PFN_SHIFT = 12, VRING_ALIGN = 4096;
}  // namespace legacy

// One virtio vendor capability as found in the list.
struct VirtioCap {
  uint8_t pos = 0;   // config-space offset of the capability
  uint8_t len = 0;   // cap_len
  uint8_t type = 0;  // cfg_type
  uint8_t bar = 0;
  uint8_t id = 0;
  uint64_t offset = 0;  // within the BAR (64-bit for shared memory caps)
  uint64_t length = 0;
  uint32_t notify_off_multiplier = 0;  // notify caps only
};

struct Bar {
  bool present = false;  // non-zero register
  bool io = false;
  bool is64 = false;
  bool prefetchable = false;
  uint64_t addr = 0;  // as programmed (may be 0 before the OS assigned it)
};

struct ConfigInfo {
  uint16_t vendor = 0, device = 0, subsys_vendor = 0, subsys_device = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base << 16 | sub << 8 | prog-if
  Bar bars[6];
  // Every virtio vendor capability in list order, up to kMaxCaps.
  static constexpr unsigned kMaxCaps = 32;
  VirtioCap caps[kMaxCaps];
  unsigned ncaps = 0;
  // The first usable capability of each type (4.1.4.1: "SHOULD use the
  // first one it can support"), as an index into caps; -1 when absent.
  int common = -1, notify = -1, isr = -1, device_cfg = -1, pci_cfg = -1;
  bool msix = false;
  uint16_t msix_table_size = 0;  // entries
  // Malformed or unusable capabilities skipped, and the first reason.
  unsigned problems = 0;
  const char* first_problem = nullptr;
  uint8_t first_problem_pos = 0;

  const VirtioCap* get(int idx) const { return idx >= 0 ? &caps[idx] : nullptr; }
  // The modern interface is usable: common, notify and ISR present
  // (4.1.4: the device-specific structure is optional).
  bool modern() const { return common >= 0 && notify >= 0 && isr >= 0; }
};

// Decode a config space dump (at least the 64-byte header; 256 or 4096
// bytes normally). 0 on success (problems with single capabilities are
// recorded, not fatal); -EINVAL when the buffer is shorter than 64 bytes or
// has no device (vendor 0xffff/0).
int parse_config(std::span<const uint8_t> cfg, ConfigInfo* out);

bool is_virtio_net(uint16_t vendor, uint16_t device);
// Transitional ids (0x1000..0x103f) have a legacy I/O BAR 0.
bool is_transitional(uint16_t device);

// The BAR offset of queue q's notify register: notify.offset +
// queue_notify_off * multiplier. -ERANGE when the register (width bytes)
// would fall outside the notify capability's window.
int notify_offset(const VirtioCap& notify, uint16_t queue_notify_off, unsigned width, uint64_t* off);

// Parse `lspci -x/-xxx/-xxxx` output ("00: f4 1a 41 10 ..."); lines that are
// not dump lines (comments, the device header line) are ignored. Bytes land
// at their offsets; returns -EINVAL on a malformed dump line or when no
// bytes were found.
int parse_hex_dump(std::string_view text, std::vector<uint8_t>* out);

}  // namespace vnet::pci
