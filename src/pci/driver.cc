// The net_vnet bus_pci driver: virtio-net PCI functions (1af4:1041 modern,
// 1af4:1000 transitional: its modern interface, else legacy I/O) bound to
// uio_pci_generic, igb_uio or vfio-pci. Devargs are validated (a bad one
// fails the probe with a log line naming it); the ethdev is the one
// virtio_user uses, over a PciTransport.
#include <bus_pci_driver.h>
#include <ethdev_pci.h>
#include <rte_kvargs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "net/ethdev.h"
#include "pci/caps.h"
#include "pci/log.h"
#include "pci/transport.h"
#include "virtio/ring_layout.h"

RTE_LOG_REGISTER(vnet_logtype_pci, pmd.net.vnet.pci, NOTICE);

namespace vnet::pci {
namespace {

const char* const kArgs[] = {"queue_size", "packed_vq", "mrg_rxbuf", "in_order", "mac", "speed", "lsc", nullptr};

struct Parsed {
  net::PortOptions port;
  bool queue_size_set = false;
  bool lsc = true;
};

int on_arg(const char* key, const char* v, void* arg) {
  auto* p = static_cast<Parsed*>(arg);
  const std::string k = key;
  if (k == "mac") {
    if (rte_ether_unformat_addr(v, &p->port.mac) != 0) {
      VNET_PCI_LOG(ERR, "devarg mac=%s: not a MAC address", v);
      return -EINVAL;
    }
    p->port.mac_set = true;
    return 0;
  }
  const uint64_t max = k == "queue_size" ? virtio::PACKED_MAX_SIZE : k == "speed" ? UINT32_MAX : 1;
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 0);
  if (errno || end == v || *end != '\0' || x > max) {
    VNET_PCI_LOG(ERR, "devarg %s=%s: expected an integer up to %llu", key, v, static_cast<unsigned long long>(max));
    return -EINVAL;
  }
  if (k == "queue_size") {
    p->port.queue_size = static_cast<uint32_t>(x);
    p->queue_size_set = true;
  } else if (k == "packed_vq") {
    p->port.packed = x;
  } else if (k == "mrg_rxbuf") {
    p->port.mrg_rxbuf = x;
  } else if (k == "in_order") {
    p->port.in_order = x;
  } else if (k == "speed") {
    p->port.speed = static_cast<uint32_t>(x);
  } else if (k == "lsc") {
    p->lsc = x;
  }
  return 0;
}

int parse_devargs(const rte_pci_device* pdev, Parsed* p) {
  const rte_devargs* da = pdev->device.devargs;
  if (!da || !da->args || !*da->args) return 0;
  rte_kvargs* kv = rte_kvargs_parse(da->args, kArgs);
  if (!kv) {
    VNET_PCI_LOG(ERR, "%s: cannot parse devargs '%s' (known: queue_size packed_vq mrg_rxbuf in_order mac speed lsc)",
                 pdev->name, da->args);
    return -EINVAL;
  }
  const int rc = rte_kvargs_process(kv, nullptr, on_arg, p);
  rte_kvargs_free(kv);
  return rc != 0 ? -EINVAL : 0;
}

// The ring size: the devarg may ask for less than the device's maximum,
// never more; without it the default is cut down to the maximum (and said).
int pick_queue_size(const rte_pci_device* pdev, Parsed* p, uint32_t dev_max, bool fixed) {
  uint32_t& qs = p->port.queue_size;
  if (fixed && p->queue_size_set && qs != dev_max) {
    VNET_PCI_LOG(ERR, "%s: queue_size=%u: a legacy device's rings have a fixed size, %u", pdev->name, qs, dev_max);
    return -EINVAL;
  }
  if (p->queue_size_set && qs > dev_max) {
    VNET_PCI_LOG(ERR, "%s: queue_size=%u exceeds the device's maximum ring size %u", pdev->name, qs, dev_max);
    return -EINVAL;
  }
  if (!p->queue_size_set && qs > dev_max) {
    VNET_PCI_LOG(INFO, "%s: default ring size %u above the device's maximum: using %u", pdev->name, qs, dev_max);
    qs = dev_max;
    if (!p->port.packed) qs = uint32_t{1} << (31 - __builtin_clz(qs));  // split rings are powers of two
  }
  if (qs == 0 || (!p->port.packed && (qs & (qs - 1)) != 0)) {
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
  auto* t = new (std::nothrow) PciTransport();
  if (!t) return -ENOMEM;
  if (int rc = t->open(pdev); rc != 0) {
    delete t;
    return rc;
  }
  if (int rc = pick_queue_size(pdev, &p, t->max_queue_size(), t->legacy()); rc != 0) {
    delete t;
    return rc;
  }
  rte_eth_dev* dev = rte_eth_dev_pci_allocate(pdev, sizeof(net::Port));
  if (!dev) {
    delete t;
    return -ENOMEM;
  }
  if (int rc = net::attach(dev, t, p.port); rc != 0) {
    delete t;
    rte_eth_dev_release_port(dev);
    return rc;
  }
  // The ethdev owns t from here (deleted at close).
  if (!p.lsc || t->enable_lsc(dev) != 0) dev->data->dev_flags &= ~RTE_ETH_DEV_INTR_LSC;
  rte_eth_dev_probing_finish(dev);
  VNET_PCI_LOG(INFO, "%s: port %u, ring size %u, link %s (%s)", pdev->name, dev->data->port_id, p.port.queue_size,
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
    {.class_id = RTE_CLASS_ANY_ID, .vendor_id = kVirtioVendor, .device_id = kVirtioNetModernId,
     .subsystem_vendor_id = RTE_PCI_ANY_ID, .subsystem_device_id = RTE_PCI_ANY_ID},
    {.class_id = RTE_CLASS_ANY_ID, .vendor_id = kVirtioVendor, .device_id = kVirtioNetTransitionalId,
     .subsystem_vendor_id = RTE_PCI_ANY_ID, .subsystem_device_id = RTE_PCI_ANY_ID},
    {.class_id = 0, .vendor_id = 0, .device_id = 0, .subsystem_vendor_id = 0, .subsystem_device_id = 0},
};

}  // namespace
}  // namespace vnet::pci

// At global scope: the registration macros paste the variable's name.
static rte_pci_driver vnet_pci_driver = [] {
  rte_pci_driver d{};
  d.id_table = vnet::pci::kIds;
  d.drv_flags = RTE_PCI_DRV_NEED_MAPPING | RTE_PCI_DRV_INTR_LSC;
  d.probe = vnet::pci::probe;
  d.remove = vnet::pci::remove;
  return d;
}();
RTE_PMD_REGISTER_PCI(net_vnet, vnet_pci_driver);
RTE_PMD_REGISTER_PCI_TABLE(net_vnet, vnet::pci::kIds);
RTE_PMD_REGISTER_KMOD_DEP(net_vnet, "* igb_uio | uio_pci_generic | vfio-pci");
RTE_PMD_REGISTER_PARAM_STRING(net_vnet,
                              "queue_size=<n> packed_vq=<0|1> mrg_rxbuf=<0|1> in_order=<0|1> "
                              "mac=<xx:xx:xx:xx:xx:xx> speed=<Mbps> lsc=<0|1>");
