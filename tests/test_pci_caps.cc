// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The virtio PCI capability parser against recorded config spaces
// (tests/fixtures/pci/*.hex, lspci -xxxx dumps) and hand-broken variants.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "pci/caps.h"

namespace vnet::pci {
namespace {

std::vector<uint8_t> load(const std::string& name) {
  std::ifstream f(std::string(VNET_FIXTURE_DIR) + "/pci/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  std::vector<uint8_t> b;
  EXPECT_EQ(parse_hex_dump(ss.str(), &b), 0) << name;
  return b;
}

ConfigInfo parse(const std::vector<uint8_t>& b) {
  ConfigInfo ci;
  EXPECT_EQ(parse_config(b, &ci), 0);
  return ci;
}

TEST(PciCaps, HostVirtioNet) {
  const auto b = load("host-virtio-net.hex");
  ASSERT_EQ(b.size(), 256u);
  const ConfigInfo ci = parse(b);
  EXPECT_EQ(ci.vendor, 0x1af4);
  EXPECT_EQ(ci.device, 0x1041);
  EXPECT_TRUE(is_virtio_net(ci.vendor, ci.device));
  EXPECT_FALSE(is_transitional(ci.device));
  EXPECT_EQ(ci.class_code, 0x020000u);
  EXPECT_TRUE(ci.bars[0].present);
  EXPECT_TRUE(ci.bars[0].is64);
  EXPECT_FALSE(ci.bars[0].io);
  EXPECT_EQ(ci.bars[0].addr, 0x4000100000ull);
  EXPECT_FALSE(ci.bars[1].present);  // the high half, consumed
  EXPECT_EQ(ci.ncaps, 5u);
  EXPECT_EQ(ci.problems, 0u) << (ci.first_problem ? ci.first_problem : "");
  ASSERT_TRUE(ci.modern());
  const VirtioCap& c = *ci.get(ci.common);
  EXPECT_EQ(c.pos, 0x40);
  EXPECT_EQ(c.bar, 0);
  EXPECT_EQ(c.offset, 0u);
  EXPECT_EQ(c.length, 0x38u);
  EXPECT_EQ(ci.get(ci.isr)->offset, 0x2000u);
  EXPECT_EQ(ci.get(ci.isr)->length, 1u);
  EXPECT_EQ(ci.get(ci.device_cfg)->offset, 0x4000u);
  EXPECT_EQ(ci.get(ci.device_cfg)->length, 0x1000u);
  const VirtioCap& n = *ci.get(ci.notify);
  EXPECT_EQ(n.offset, 0x6000u);
  EXPECT_EQ(n.length, 0x1000u);
  EXPECT_EQ(n.notify_off_multiplier, 4u);
  ASSERT_GE(ci.pci_cfg, 0);
  EXPECT_EQ(ci.get(ci.pci_cfg)->pos, 0x84);
  EXPECT_TRUE(ci.msix);
  EXPECT_EQ(ci.msix_table_size, 3u);

  uint64_t off = 0;
  EXPECT_EQ(notify_offset(n, 0, 2, &off), 0);
  EXPECT_EQ(off, 0x6000u);
  EXPECT_EQ(notify_offset(n, 3, 4, &off), 0);
  EXPECT_EQ(off, 0x600cu);
  EXPECT_EQ(notify_offset(n, 1023, 4, &off), 0);  // last register that fits
  EXPECT_EQ(notify_offset(n, 1024, 2, &off), -ERANGE);
  EXPECT_EQ(notify_offset(n, 0xffff, 2, &off), -ERANGE);
}

// QEMU's layout: everything in the 64-bit prefetchable BAR 4, 4 KiB apart;
// the list runs from the MSI-X capability at 0x98 down to common at 0x40.
void expect_qemu_modern_windows(const ConfigInfo& ci) {
  ASSERT_TRUE(ci.modern());
  EXPECT_EQ(ci.problems, 0u);
  EXPECT_EQ(ci.ncaps, 5u);
  for (int idx : {ci.common, ci.isr, ci.device_cfg, ci.notify}) EXPECT_EQ(ci.caps[idx].bar, 4);
  EXPECT_EQ(ci.get(ci.common)->offset, 0x0000u);
  EXPECT_EQ(ci.get(ci.common)->length, 0x1000u);
  EXPECT_EQ(ci.get(ci.isr)->offset, 0x1000u);
  EXPECT_EQ(ci.get(ci.device_cfg)->offset, 0x2000u);
  EXPECT_EQ(ci.get(ci.notify)->offset, 0x3000u);
  EXPECT_EQ(ci.get(ci.notify)->notify_off_multiplier, 4u);
  EXPECT_EQ(ci.caps[0].type, cap_type::PCI_CFG);  // list order, not type order
  EXPECT_TRUE(ci.bars[4].is64);
  EXPECT_TRUE(ci.bars[4].prefetchable);
  EXPECT_EQ(ci.bars[1].present, ci.msix);  // BAR 1 holds the MSI-X table
}

TEST(PciCaps, QemuModern) {
  const ConfigInfo ci = parse(load("qemu-modern.hex"));
  EXPECT_EQ(ci.device, 0x1041);
  expect_qemu_modern_windows(ci);
  EXPECT_TRUE(ci.msix);
  EXPECT_EQ(ci.msix_table_size, 4u);
  EXPECT_FALSE(ci.bars[0].present);  // no legacy I/O BAR
}

TEST(PciCaps, QemuModernWithoutVectors) {
  const ConfigInfo ci = parse(load("qemu-modern-novectors.hex"));
  EXPECT_FALSE(ci.msix);
  expect_qemu_modern_windows(ci);
}

TEST(PciCaps, QemuTransitional) {
  const ConfigInfo ci = parse(load("qemu-transitional.hex"));
  EXPECT_EQ(ci.device, 0x1000);
  EXPECT_TRUE(is_virtio_net(ci.vendor, ci.device));
  EXPECT_TRUE(is_transitional(ci.device));
  EXPECT_EQ(ci.subsys_device, 1);  // legacy device type: net
  ASSERT_TRUE(ci.bars[0].present);
  EXPECT_TRUE(ci.bars[0].io);
  EXPECT_EQ(ci.bars[0].addr, 0xc020u);
  expect_qemu_modern_windows(ci);  // driven through its modern interface
}

TEST(PciCaps, QemuLegacyOnly) {
  const ConfigInfo ci = parse(load("qemu-legacy.hex"));
  EXPECT_EQ(ci.device, 0x1000);
  EXPECT_TRUE(ci.bars[0].io);
  EXPECT_EQ(ci.ncaps, 0u);
  EXPECT_FALSE(ci.modern());
  EXPECT_TRUE(ci.msix);
}

TEST(PciCaps, HexDumpRejectsGarbage) {
  std::vector<uint8_t> b;
  EXPECT_EQ(parse_hex_dump("", &b), -EINVAL);
  EXPECT_EQ(parse_hex_dump("# nothing\n00:03.0 Ethernet controller\n", &b), -EINVAL);
  EXPECT_EQ(parse_hex_dump("00: f4 1a 4\n", &b), -EINVAL);
  EXPECT_EQ(parse_hex_dump("00: f4 zz\n", &b), -EINVAL);
  EXPECT_EQ(parse_hex_dump("00: f4 1a41\n", &b), -EINVAL);
  ASSERT_EQ(parse_hex_dump("10: 01 02\n00: aa\n", &b), 0);
  ASSERT_EQ(b.size(), 0x12u);
  EXPECT_EQ(b[0], 0xaa);
  EXPECT_EQ(b[0x10], 0x01);
  EXPECT_EQ(b[0x11], 0x02);
}

TEST(PciCaps, ShortOrAbsentDevice) {
  ConfigInfo ci;
  std::vector<uint8_t> b(63, 0x11);
  EXPECT_EQ(parse_config(b, &ci), -EINVAL);
  std::vector<uint8_t> ff(256, 0xff);
  EXPECT_EQ(parse_config(ff, &ci), -EINVAL);
}

// A 256-byte modern device built by hand: caps at 0x40.. chained.
struct Builder {
  std::vector<uint8_t> b = std::vector<uint8_t>(256, 0);
  uint8_t last = 0;
  Builder() {
    b[0] = 0xf4;
    b[1] = 0x1a;
    b[2] = 0x41;
    b[3] = 0x10;
    b[6] = 0x10;  // status: capability list
  }
  void put32(size_t off, uint32_t v) {
    for (size_t i = 0; i < 4; ++i)
      if (off + i < b.size()) b[off + i] = static_cast<uint8_t>(v >> (8 * i));  // a cap may hang off the end
  }
  void link(uint8_t pos) {
    if (last == 0)
      b[0x34] = pos;
    else
      b[last + 1] = pos;
    last = pos;
  }
  void vcap(uint8_t pos, uint8_t type, uint8_t bar, uint32_t off, uint32_t len, uint8_t cap_len = 16,
            uint32_t mult = 4) {
    link(pos);
    b.at(pos) = 0x09;
    b.at(pos + 2) = cap_len;
    b.at(pos + 3) = type;
    b.at(pos + 4) = bar;
    put32(pos + 8, off);
    put32(pos + 12, len);
    if (type == cap_type::NOTIFY && cap_len >= 20) put32(pos + 16, mult);
  }
  void standard() {
    vcap(0x40, cap_type::COMMON, 4, 0, 0x1000);
    vcap(0x50, cap_type::ISR, 4, 0x1000, 0x1000);
    vcap(0x60, cap_type::DEVICE, 4, 0x2000, 0x1000);
    vcap(0x70, cap_type::NOTIFY, 4, 0x3000, 0x1000, 20, 4);
  }
};

TEST(PciCaps, BuiltModernDevice) {
  Builder bl;
  bl.standard();
  const ConfigInfo ci = parse(bl.b);
  EXPECT_TRUE(ci.modern());
  EXPECT_EQ(ci.problems, 0u);
  EXPECT_EQ(ci.get(ci.notify)->bar, 4);
  EXPECT_EQ(ci.pci_cfg, -1);
  EXPECT_FALSE(ci.msix);
}

TEST(PciCaps, NoCapabilityListBit) {
  Builder bl;
  bl.standard();
  bl.b[6] = 0;
  const ConfigInfo ci = parse(bl.b);
  EXPECT_EQ(ci.ncaps, 0u);
  EXPECT_FALSE(ci.modern());
}

TEST(PciCaps, LoopInListEndsWalk) {
  Builder bl;
  bl.standard();
  bl.b[0x71] = 0x40;  // notify -> common again
  const ConfigInfo ci = parse(bl.b);
  EXPECT_TRUE(ci.modern());
  EXPECT_EQ(ci.ncaps, 4u);
  EXPECT_EQ(ci.problems, 1u);
  EXPECT_STREQ(ci.first_problem, "capability list loops");
}

TEST(PciCaps, PointerIntoHeaderOrPastEnd) {
  Builder bl;
  bl.standard();
  bl.b[0x71] = 0x20;
  ConfigInfo ci = parse(bl.b);
  EXPECT_EQ(ci.problems, 1u);
  EXPECT_EQ(ci.first_problem_pos, 0x20);
  // A truncated dump: the list points past what was read.
  std::vector<uint8_t> cut(bl.b.begin(), bl.b.begin() + 0x60);
  ci = parse(cut);
  EXPECT_FALSE(ci.modern());  // device and notify lost
  EXPECT_EQ(ci.ncaps, 2u);
  EXPECT_EQ(ci.problems, 1u);
}

TEST(PciCaps, CapabilityCrossingTheEnd) {
  Builder bl;
  bl.vcap(0x40, cap_type::COMMON, 0, 0, 0x1000);
  bl.vcap(0xf8, cap_type::NOTIFY, 0, 0, 0x1000, 20);  // 0xf8 + 20 > 256
  const ConfigInfo ci = parse(bl.b);
  EXPECT_EQ(ci.notify, -1);
  EXPECT_EQ(ci.ncaps, 1u);
  EXPECT_EQ(ci.problems, 1u);
}

TEST(PciCaps, ShortCapsAreSkipped) {
  Builder bl;
  bl.vcap(0x40, cap_type::COMMON, 0, 0, 0x1000, 12);       // < 16
  bl.vcap(0x50, cap_type::NOTIFY, 0, 0x3000, 0x1000, 16);  // no multiplier
  bl.vcap(0x60, cap_type::COMMON, 0, 0, 0x20);             // window too small
  bl.vcap(0x70, cap_type::ISR, 0, 0x1000, 0);              // empty ISR
  const ConfigInfo ci = parse(bl.b);
  EXPECT_EQ(ci.common, -1);
  EXPECT_EQ(ci.notify, -1);
  EXPECT_EQ(ci.isr, -1);
  EXPECT_EQ(ci.problems, 4u);
}

TEST(PciCaps, ReservedBarIgnoredAndNextOneUsed) {
  Builder bl;
  bl.vcap(0x40, cap_type::COMMON, 6, 0, 0x1000);  // reserved BAR: ignored
  bl.vcap(0x50, cap_type::COMMON, 2, 0x100, 0x1000);
  bl.vcap(0x60, cap_type::COMMON, 3, 0x200, 0x1000);  // a duplicate: the first usable wins
  bl.vcap(0x70, cap_type::PCI_CFG, 0, 0, 0);          // its bar field is not checked
  bl.vcap(0x80, 0x42, 0, 0, 0);                       // reserved type: listed only
  const ConfigInfo ci = parse(bl.b);
  ASSERT_GE(ci.common, 0);
  EXPECT_EQ(ci.get(ci.common)->bar, 2);
  EXPECT_EQ(ci.get(ci.common)->offset, 0x100u);
  EXPECT_EQ(ci.pci_cfg, 3);
  EXPECT_EQ(ci.ncaps, 5u);
  EXPECT_EQ(ci.problems, 1u);
  EXPECT_STREQ(cap_type_name(ci.caps[4].type), "reserved");
}

TEST(PciCaps, WindowWrappingThe32BitOffset) {
  Builder bl;
  bl.vcap(0x40, cap_type::DEVICE, 0, 0xfffff000, 0x2000);
  const ConfigInfo ci = parse(bl.b);
  EXPECT_EQ(ci.device_cfg, -1);
  EXPECT_EQ(ci.problems, 1u);
}

TEST(PciCaps, SharedMemoryCapIs64Bit) {
  Builder bl;
  bl.vcap(0x40, cap_type::SHARED_MEMORY, 2, 0x1000, 0x2000, 24);
  bl.put32(0x40 + 16, 0x1);
  bl.put32(0x40 + 20, 0x2);
  bl.vcap(0x60, cap_type::SHARED_MEMORY, 2, 0, 0, 16);  // too short for its 64-bit fields
  const ConfigInfo ci = parse(bl.b);
  ASSERT_EQ(ci.ncaps, 1u);
  EXPECT_EQ(ci.caps[0].offset, 0x100001000ull);
  EXPECT_EQ(ci.caps[0].length, 0x200002000ull);
  EXPECT_EQ(ci.problems, 1u);
}

// Random corruption of a real dump: the walk stays bounded and in range
// (run under ASan in CI), and whatever it selects satisfies the rules.
TEST(PciCaps, CorruptedDumpsStayInBounds) {
  const auto base = load("host-virtio-net.hex");
  std::mt19937 rng(6);
  for (int iter = 0; iter < 20000; ++iter) {
    auto b = base;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) b[0x34 + rng() % (256 - 0x34)] = static_cast<uint8_t>(rng());
    b.resize(64 + rng() % 193);
    ConfigInfo ci;
    if (parse_config(b, &ci) != 0) continue;
    ASSERT_LE(ci.ncaps, ConfigInfo::kMaxCaps);
    for (int idx : {ci.common, ci.notify, ci.isr, ci.device_cfg}) {
      if (idx < 0) continue;
      const VirtioCap& c = ci.caps[idx];
      ASSERT_LE(c.bar, 5);
      ASSERT_LE(c.offset + c.length, uint64_t{1} << 32);
      ASSERT_LE(size_t{c.pos} + c.len, b.size());
    }
  }
}

}  // namespace
}  // namespace vnet::pci
