// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// tools/vnet-pci's binding logic on a fake sysfs tree and recorded route
// tables (tests/fixtures/pci/proc-host: this build host's own, where eth0
// carries the default route). Checks what is written, and that nothing is
// written when the tool refuses.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "pci_sysfs.h"

namespace vnet::pcitool {
namespace {
namespace fs = std::filesystem;

const std::string kBdf = "0000:00:03.0";

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void touch(const fs::path& p, const std::string& content = "") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

// sys/bus/pci/{devices/<bdf>, drivers/<drv>/unbind, drivers_probe} with the
// function bound to virtio-pci and its interface at virtio2/net/<ifname>.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("vnet-sysfs-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    r_.sys = (root_ / "sys").string();
    r_.proc = std::string(VNET_FIXTURE_DIR) + "/pci/proc-host";
    const fs::path bus = root_ / "sys/bus/pci";
    for (const char* d : {"virtio-pci", "uio_pci_generic", "vfio-pci"}) touch(bus / "drivers" / d / "unbind");
    touch(bus / "drivers_probe");
    dev_ = bus / "devices" / kBdf;
    touch(dev_ / "driver_override", "(null)\n");
    fs::create_directories(dev_ / "virtio2/net/eth0");
    fs::create_symlink("../../drivers/virtio-pci", dev_ / "driver");
  }
  void TearDown() override { fs::remove_all(root_); }
  void use_proc(const std::string& route, const std::string& ipv6) {
    const fs::path p = root_ / "proc";
    touch(p / "net/route", route);
    touch(p / "net/ipv6_route", ipv6);
    r_.proc = p.string();
  }
  std::string unbound() { return slurp(root_ / "sys/bus/pci/drivers/virtio-pci/unbind"); }
  std::string override_() { return slurp(dev_ / "driver_override"); }
  std::string probed() { return slurp(root_ / "sys/bus/pci/drivers_probe"); }

  fs::path root_, dev_;
  Roots r_;
};

const char* kRouteHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

TEST_F(FakeSysfs, FindsDriverAndVirtioInterface) {
  std::string drv;
  ASSERT_EQ(current_driver(r_, kBdf, &drv), 0);
  EXPECT_EQ(drv, "virtio-pci");
  EXPECT_EQ(net_interfaces(r_, kBdf), std::vector<std::string>{"eth0"});
  EXPECT_EQ(current_driver(r_, "0000:00:09.0", &drv), -ENOENT);
}

TEST_F(FakeSysfs, HostRoutesDecoded) {
  const auto v = active_routes(r_, "eth0");
  ASSERT_GE(v.size(), 3u);
  EXPECT_EQ(v[0], "ipv4 0.0.0.0/0");
  EXPECT_EQ(v[1], "ipv4 192.0.2.0/24");
  EXPECT_EQ(v[2], "ipv6 fd00:0000:0000:0000:0000:0000:0000:0000/64");
  EXPECT_TRUE(active_routes(r_, "eth1").empty());
  EXPECT_FALSE(active_routes(r_, "lo").empty());  // ipv6 ::1 and the like
}

TEST_F(FakeSysfs, UnbindRefusedWhileRouted) {
  BindResult res;
  EXPECT_EQ(unbind_device(r_, kBdf, false, &res), -EBUSY);
  EXPECT_EQ(unbound(), "");
  ASSERT_FALSE(res.blocking_routes.empty());
  EXPECT_EQ(res.blocking_routes[0], "eth0: ipv4 0.0.0.0/0");
  EXPECT_NE(res.message.find("--force"), std::string::npos);
}

TEST_F(FakeSysfs, BindRefusedWhileRoutedWritesNothing) {
  BindResult res;
  EXPECT_EQ(bind_device(r_, kBdf, "uio_pci_generic", false, &res), -EBUSY);
  EXPECT_EQ(unbound(), "");
  EXPECT_EQ(override_(), "(null)\n");
  EXPECT_EQ(probed(), "");
}

TEST_F(FakeSysfs, ForceUnbindsAndProbes) {
  BindResult res;
  // The fake kernel does not rebind: the driver link still says virtio-pci,
  // which bind reports as a failure after doing its writes.
  EXPECT_EQ(bind_device(r_, kBdf, "uio_pci_generic", true, &res), -EIO);
  EXPECT_EQ(unbound(), kBdf);
  EXPECT_EQ(override_(), "uio_pci_generic");
  EXPECT_EQ(probed(), kBdf);
  EXPECT_NE(res.message.find("bound to virtio-pci"), std::string::npos) << res.message;
}

TEST_F(FakeSysfs, UnroutedInterfaceIsUnbound) {
  use_proc(std::string(kRouteHeader) + "eth1\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", "");
  BindResult res;
  EXPECT_EQ(unbind_device(r_, kBdf, false, &res), 0) << res.message;
  EXPECT_EQ(unbound(), kBdf);
  EXPECT_TRUE(res.blocking_routes.empty());
}

TEST_F(FakeSysfs, RouteNotUpDoesNotBlock) {
  use_proc(std::string(kRouteHeader) + "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n", "");
  BindResult res;
  EXPECT_EQ(unbind_device(r_, kBdf, false, &res), 0) << res.message;
}

TEST_F(FakeSysfs, Ipv6RouteAloneBlocks) {
  use_proc(kRouteHeader,
           "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
           "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n");
  BindResult res;
  EXPECT_EQ(unbind_device(r_, kBdf, false, &res), -EBUSY);
  ASSERT_EQ(res.blocking_routes.size(), 1u);
  EXPECT_EQ(res.blocking_routes[0], "eth0: ipv6 fd00:0000:0000:0000:0000:0000:0000:0000/64");
  EXPECT_EQ(unbound(), "");
}

TEST_F(FakeSysfs, DeviceWithoutInterfaceIsNotChecked) {
  fs::remove_all(dev_ / "virtio2");
  BindResult res;
  EXPECT_EQ(unbind_device(r_, kBdf, false, &res), 0) << res.message;
  EXPECT_EQ(unbound(), kBdf);
}

TEST_F(FakeSysfs, DriverNotLoaded) {
  fs::remove_all(root_ / "sys/bus/pci/drivers/vfio-pci");
  use_proc(kRouteHeader, "");
  BindResult res;
  EXPECT_EQ(bind_device(r_, kBdf, "vfio-pci", false, &res), -ENODEV);
  EXPECT_NE(res.message.find("modprobe vfio-pci"), std::string::npos);
  EXPECT_EQ(unbound(), "");
}

TEST_F(FakeSysfs, BadArguments) {
  BindResult res;
  EXPECT_EQ(bind_device(r_, kBdf, "e1000", true, &res), -EINVAL);
  EXPECT_EQ(bind_device(r_, "00:03.0", "vfio-pci", true, &res), -EINVAL);
  EXPECT_EQ(bind_device(r_, "0000:00:03.0\n", "vfio-pci", true, &res), -EINVAL);
  EXPECT_EQ(bind_device(r_, "0000:00:0A.0", "vfio-pci", true, &res), -EINVAL);  // sysfs names are lower-case
  EXPECT_EQ(bind_device(r_, "0000:00:07.0", "vfio-pci", true, &res), -ENOENT);
  EXPECT_EQ(unbind_device(r_, "../../x/y.z", true, &res), -EINVAL);
  EXPECT_EQ(unbound(), "");
  EXPECT_TRUE(valid_bdf("0000:00:1f.7"));
}

TEST_F(FakeSysfs, AlreadyBoundIsANoOp) {
  fs::remove(dev_ / "driver");
  fs::create_symlink("../../drivers/uio_pci_generic", dev_ / "driver");
  BindResult res;
  EXPECT_EQ(bind_device(r_, kBdf, "uio_pci_generic", false, &res), 0);
  EXPECT_EQ(probed(), "");
  EXPECT_EQ(slurp(root_ / "sys/bus/pci/drivers/uio_pci_generic/unbind"), "");
}

TEST_F(FakeSysfs, BackToTheKernel) {
  fs::remove_all(dev_ / "virtio2");  // under uio_pci_generic there is no interface
  fs::remove(dev_ / "driver");
  fs::create_symlink("../../drivers/uio_pci_generic", dev_ / "driver");
  BindResult res;
  EXPECT_EQ(bind_device(r_, kBdf, "kernel", false, &res), 0) << res.message;
  EXPECT_EQ(slurp(root_ / "sys/bus/pci/drivers/uio_pci_generic/unbind"), kBdf);
  EXPECT_EQ(override_(), "\n");
  EXPECT_EQ(probed(), kBdf);
}

}  // namespace
}  // namespace vnet::pcitool
