// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's dmadev set-up (dma_setup.h) and the process-wide list of
// dmadevs our closed ports left configured: those, and only those, a new
// port may configure again.
#include "vhost/dma_setup.h"

#include <rte_dmadev.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "common/log.h"
#include "vhost/async_queue.h"

namespace vnet::vhost {
namespace {

constexpr uint16_t kDmaRingSize = 1024;  // descriptors per vchan (clamped to the device's range)

// dmadevs a closed port of ours configured and stopped: configured, yet free
// for the next port (anything else already configured is someone's).
std::mutex g_dma_mu;
std::vector<int16_t> g_dma_released;

}  // namespace

int parse_dmas(const char* name, std::string list, unsigned queue_pairs, std::vector<DmaSpec>& out) {
  if (!list.empty() && list.front() == '[') list.erase(0, 1);
  if (!list.empty() && list.back() == ']') list.pop_back();
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find_first_of(";,", pos);
    if (end == std::string::npos) end = list.size();
    const std::string e = list.substr(pos, end - pos);
    pos = end + 1;
    if (e.empty()) continue;
    const size_t at = e.find('@'), dash = e.rfind('-');
    DmaSpec d{};
    char* q_end = nullptr;
    const bool dir_ok = e.compare(0, 3, "txq") == 0 || e.compare(0, 3, "rxq") == 0;
    const unsigned long q = dir_ok ? std::strtoul(e.c_str() + 3, &q_end, 10) : 0;
    char* v_end = nullptr;
    const unsigned long vc = dash != std::string::npos ? std::strtoul(e.c_str() + dash + 1, &v_end, 10) : 0;
    if (!dir_ok || at == std::string::npos || q_end != e.c_str() + at || at == 3 || dash == std::string::npos ||
        dash <= at + 1 || dash + 1 == e.size() || !v_end || *v_end || vc > UINT16_MAX) {
      VNET_VHOST_LOG(ERR, "%s: dmas entry '%s' is not txq<N>@<dmadev>-<vchan> or rxq<N>@<dmadev>-<vchan>", name,
                     e.c_str());
      return -EINVAL;
    }
    if (q >= queue_pairs) {
      VNET_VHOST_LOG(ERR, "%s: dmas entry '%s': queue %lu but queues=%u", name, e.c_str(), q, queue_pairs);
      return -EINVAL;
    }
    const std::string dn = e.substr(at + 1, dash - at - 1);
    int id = rte_dma_get_dev_id_by_name(dn.c_str());
    if (id < 0) {
      char* id_end = nullptr;
      const long n = std::strtol(dn.c_str(), &id_end, 10);
      if (*id_end == 0 && n >= 0 && n <= INT16_MAX && rte_dma_is_valid(static_cast<int16_t>(n)))
        id = static_cast<int>(n);
    }
    if (id < 0) {
      VNET_VHOST_LOG(ERR,
                     "%s: dmas entry '%s': no dmadev '%s' (%u dmadev(s) present; a software one comes from "
                     "--vdev dma_skeleton0)",
                     name, e.c_str(), dn.c_str(), rte_dma_count_avail());
      return -ENODEV;
    }
    d.tx = e[0] == 't';
    d.queue = static_cast<unsigned>(q);
    d.dev = static_cast<int16_t>(id);
    d.vchan = static_cast<uint16_t>(vc);
    for (const DmaSpec& o : out)
      if (o.tx == d.tx && o.queue == d.queue) {
        VNET_VHOST_LOG(ERR, "%s: dmas names %s%u twice", name, d.tx ? "txq" : "rxq", d.queue);
        return -EINVAL;
      }
    out.push_back(d);
  }
  return 0;
}

namespace {

// A dmadev we may use: it copies memory to memory, takes process virtual
// addresses, and nobody but a closed port of ours configured it. Its info
// is left in `info`.
int check_dmadev(const char* name, int16_t dev, rte_dma_info& info) {
  if (int rc = rte_dma_info_get(dev, &info); rc != 0) {
    VNET_VHOST_LOG(ERR, "%s: dmadev %d: cannot read its info (%s)", name, dev, std::strerror(-rc));
    return rc;
  }
  if (!(info.dev_capa & RTE_DMA_CAPA_MEM_TO_MEM) || !(info.dev_capa & RTE_DMA_CAPA_OPS_COPY)) {
    VNET_VHOST_LOG(ERR, "%s: dmadev %s cannot copy memory to memory", name, info.dev_name);
    return -ENOTSUP;
  }
  if (!(info.dev_capa & RTE_DMA_CAPA_SVA)) {
    // Guest memory is mapped from the frontend's fds, outside DPDK's
    // memory: only a device that takes process virtual addresses reaches it.
    VNET_VHOST_LOG(ERR, "%s: dmadev %s lacks SVA; mapping guest memory for it (VFIO) is not supported", name,
                   info.dev_name);
    return -ENOTSUP;
  }
  if (info.nb_vchans != 0) {
    std::lock_guard<std::mutex> g(g_dma_mu);
    const auto it = std::find(g_dma_released.begin(), g_dma_released.end(), dev);
    if (it == g_dma_released.end()) {
      VNET_VHOST_LOG(ERR, "%s: dmadev %s is busy (already configured by another port or the application)", name,
                     info.dev_name);
      return -EBUSY;
    }
    g_dma_released.erase(it);  // a closed port of ours left it: reconfigure it
  }
  return 0;
}

// Configure and start dmadev `dev` with the vchans `specs` name on it, and
// add a channel for each.
int start_dmadev(const char* name, BackendPort* p, const std::vector<DmaSpec>& specs, int16_t dev, uint32_t threshold) {
  rte_dma_info info{};
  if (int rc = check_dmadev(name, dev, info); rc != 0) return rc;
  uint16_t nvc = 0;
  for (const DmaSpec& d : specs)
    if (d.dev == dev) nvc = std::max<uint16_t>(nvc, static_cast<uint16_t>(d.vchan + 1));
  if (nvc > info.max_vchans) {
    VNET_VHOST_LOG(ERR, "%s: dmadev %s has %u vchan(s); dmas names vchan %u", name, info.dev_name, info.max_vchans,
                   nvc - 1);
    return -EINVAL;
  }
  uint16_t nb = kDmaRingSize;
  if (nb > info.max_desc) nb = static_cast<uint16_t>(rte_align32prevpow2(info.max_desc));
  if (nb < info.min_desc) nb = static_cast<uint16_t>(rte_align32pow2(info.min_desc));
  rte_dma_conf conf{};
  conf.nb_vchans = nvc;
  int rc = rte_dma_configure(dev, &conf);
  for (uint16_t vc = 0; rc == 0 && vc < nvc; ++vc) {
    rte_dma_vchan_conf vconf{};
    vconf.direction = RTE_DMA_DIR_MEM_TO_MEM;
    vconf.nb_desc = nb;
    rc = rte_dma_vchan_setup(dev, vc, &vconf);
  }
  if (rc == 0) rc = rte_dma_start(dev);
  if (rc != 0) {
    VNET_VHOST_LOG(ERR, "%s: dmadev %s: set-up failed (%s)%s", name, info.dev_name, std::strerror(-rc),
                   rc == -EBUSY ? ": busy" : "");
    return rc;
  }
  p->dma_devs.push_back(dev);
  for (uint16_t vc = 0; vc < nvc; ++vc) {
    bool used = false;
    for (const DmaSpec& d : specs) used |= d.dev == dev && d.vchan == vc;
    if (!used) continue;
    DmaChan& ch = p->chans[p->nchans++];
    ch.dev = dev;
    ch.vchan = vc;
  }
  VNET_VHOST_LOG(INFO, "%s: dmadev %s started, %u vchan(s) of %u descriptors, threshold %u B", name, info.dev_name, nvc,
                 nb, threshold);
  return 0;
}

}  // namespace

// Configure and start each dmadev named (all of its vchans we use), and
// give each ring its channel. A device someone else configured or started
// is busy: we do not share it with another port or application.
int setup_dma(const char* name, BackendPort* p, const std::vector<DmaSpec>& specs, uint32_t threshold) {
  std::vector<int16_t> devs;
  for (const DmaSpec& d : specs)
    if (std::find(devs.begin(), devs.end(), d.dev) == devs.end()) devs.push_back(d.dev);
  for (int16_t dev : devs)
    if (int rc = start_dmadev(name, p, specs, dev, threshold); rc != 0) return rc;
  for (const DmaSpec& d : specs) {
    DmaChan* ch = nullptr;
    for (unsigned i = 0; i < p->nchans; ++i)
      if (p->chans[i].dev == d.dev && p->chans[i].vchan == d.vchan) ch = &p->chans[i];
    Vring& v = p->vrings[d.tx ? 2 * d.queue : 2 * d.queue + 1];
    v.aq = create_async_queue(p->socket);
    if (!v.aq) return -ENOMEM;
    v.aq->ch = ch;
    v.aq->threshold = threshold;
    ch->rings[ch->nrings++] = &v;
  }
  return 0;
}

void release_dma(BackendPort* p) {
  for (int16_t d : p->dma_devs) {
    rte_dma_stop(d);
    std::lock_guard<std::mutex> g(g_dma_mu);
    g_dma_released.push_back(d);
  }
  if (p->vrings)
    for (unsigned i = 0; i < 2u * p->queue_pairs; ++i) destroy_async_queue(p->vrings[i].aq);
}

}  // namespace vnet::vhost
