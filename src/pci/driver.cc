// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The net_vnet bus_pci driver: virtio-net PCI functions (1af4:1041 modern,
// 1af4:1000 transitional: its modern interface, else legacy I/O) bound to
// uio_pci_generic, igb_uio or vfio-pci. Devargs (the shared port ones of
// net/devargs.h, plus lsc) are validated (a bad one fails the probe with a
// log line naming it); the ethdev is the one virtio_user uses, over a
// PciTransport.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include <bus_pci_driver.h>
#include <ethdev_pci.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "net/devargs.h"
#include "net/ethdev.h"
#include "pci/caps.h"
#include "common/c_entry.h"
#include "common/log.h"
#include "pci/transport.h"
#include "virtio/ring_layout.h"

RTE_LOG_REGISTER(vnet_logtype_pci, pmd.net.vnet.pci, NOTICE);

namespace vnet::pci {
namespace {

const net::DevargsLog kLog{&vnet_logtype_pci, "vnet_pci"};

struct Parsed {
  net::PortArgs args;
  bool lsc = true;
};

int parse_devargs(const rte_pci_device* pdev, Parsed* p) {
  const rte_devargs* da = pdev->device.devargs;
  auto own = [p](const char* key, const char* v) {  // lsc=<0|1>
    uint64_t x = 0;
    if (int rc = net::parse_devarg_uint(key, v, 1, &x, kLog); rc != 0) return rc;
    p->lsc = x;
    return 0;
  };
  return net::parse_port_devargs(pdev->name, da ? da->args : nullptr, {"lsc"}, own, &p->args, kLog);
}

// The ring size: the devarg may ask for less than the device's maximum,
// never more; without it the default is cut down to the maximum (and said).
int pick_queue_size(const rte_pci_device* pdev, Parsed* p, uint32_t dev_max, bool fixed) {
  uint32_t& qs = p->args.port.queue_size;
  if (fixed && p->args.queue_size_set && qs != dev_max) {
    VNET_PCI_LOG(ERR, "%s: queue_size=%u: a legacy device's rings have a fixed size, %u", pdev->name, qs, dev_max);
    return -EINVAL;
  }
  if (p->args.queue_size_set && qs > dev_max) {
    VNET_PCI_LOG(ERR, "%s: queue_size=%u exceeds the device's maximum ring size %u", pdev->name, qs, dev_max);
    return -EINVAL;
  }
  if (!p->args.queue_size_set && qs > dev_max) {
    VNET_PCI_LOG(INFO, "%s: default ring size %u above the device's maximum: using %u", pdev->name, qs, dev_max);
    qs = dev_max;
    if (!p->args.port.packed) qs = uint32_t{1} << (31 - __builtin_clz(qs));  // split rings are powers of two
  }
  if (qs == 0 || (!p->args.port.packed && (qs & (qs - 1)) != 0)) {
    VNET_PCI_LOG(ERR, "%s: queue_size=%u: split rings need a power of two", pdev->name, qs);
    return -EINVAL;
  }
  return 0;
}

int probe(rte_pci_driver*, rte_pci_device* pdev) {
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VNET_PCI_LOG(ERR, "%s: secondary processes are not supported", pdev->name);
    return -ENOTSUP;
  }
  Parsed p;
  if (int rc = parse_devargs(pdev, &p); rc != 0) return rc;
  PciTransport* t = nullptr;
  if (int rc = PciTransport::open(pdev, &t); rc != 0) return rc;
  if (int rc = pick_queue_size(pdev, &p, t->max_queue_size(), t->legacy()); rc != 0) {
    delete t;
    return rc;
  }
  rte_eth_dev* dev = rte_eth_dev_pci_allocate(pdev, sizeof(net::Port));
  if (!dev) {
    delete t;
    return -ENOMEM;
  }
  if (int rc = net::attach(dev, t, p.args.port); rc != 0) {
    delete t;
    rte_eth_dev_release_port(dev);
    return rc;
  }
  // The ethdev owns t from here (deleted at close).
  if (!p.lsc || t->enable_lsc() != 0) dev->data->dev_flags &= ~RTE_ETH_DEV_INTR_LSC;
  rte_eth_dev_probing_finish(dev);
  VNET_PCI_LOG(INFO, "%s: port %u, ring size %u, link %s (%s)", pdev->name, dev->data->port_id, p.args.port.queue_size,
               t->link_up() ? "up" : "down",
               dev->data->dev_flags & RTE_ETH_DEV_INTR_LSC ? "link changes by interrupt" : "link status polled");
  return 0;
}

int remove(rte_pci_device* pdev) {
  rte_eth_dev* dev = rte_eth_dev_allocated(pdev->device.name);
  if (!dev) return 0;
  return rte_eth_dev_close(dev->data->port_id);
}

const rte_pci_id kIds[] = {
    {.class_id = RTE_CLASS_ANY_ID,
     .vendor_id = kVirtioVendor,
     .device_id = kVirtioNetModernId,
     .subsystem_vendor_id = RTE_PCI_ANY_ID,
     .subsystem_device_id = RTE_PCI_ANY_ID},
    {.class_id = RTE_CLASS_ANY_ID,
     .vendor_id = kVirtioVendor,
     .device_id = kVirtioNetTransitionalId,
     .subsystem_vendor_id = RTE_PCI_ANY_ID,
     .subsystem_device_id = RTE_PCI_ANY_ID},
    {.class_id = 0, .vendor_id = 0, .device_id = 0, .subsystem_vendor_id = 0, .subsystem_device_id = 0},
};

}  // namespace
}  // namespace vnet::pci

// At global scope: the registration macros paste the variable's name.
static rte_pci_driver vnet_pci_driver = [] {
  rte_pci_driver d{};
  d.id_table = vnet::pci::kIds;
  d.drv_flags = RTE_PCI_DRV_NEED_MAPPING | RTE_PCI_DRV_INTR_LSC;
  d.probe = vnet::c_entry<vnet::pci::probe>;
  d.remove = vnet::c_entry<vnet::pci::remove>;
  return d;
}();
RTE_PMD_REGISTER_PCI(net_vnet, vnet_pci_driver);
RTE_PMD_REGISTER_PCI_TABLE(net_vnet, vnet::pci::kIds);
RTE_PMD_REGISTER_KMOD_DEP(net_vnet, "* igb_uio | uio_pci_generic | vfio-pci");
RTE_PMD_REGISTER_PARAM_STRING(net_vnet,
                              "queues=<1..128> queue_size=<n> packed_vq=<0|1> mrg_rxbuf=<0|1> in_order=<0|1> "
                              "mac=<xx:xx:xx:xx:xx:xx> speed=<Mbps> cq=<0|1> lsc=<0|1>");
