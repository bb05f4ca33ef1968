// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// dma_instant: a dmadev whose every copy is done by the time rte_dma_copy
// returns (a memcpy on the caller's core) and is reported complete by the
// next rte_dma_completed. For measuring what the backend's asynchronous path
// costs by itself: no copy thread, no descriptor rings, nothing to wait
// for. Invariants: one vchan; at most nb_desc ops not yet reported; ring
// indexes count up from 0 at start and wrap at 2^16, as the API says.
//   --vdev dma_instant0
#include <bus_vdev_driver.h>
#include <rte_dmadev.h>
#include <rte_dmadev_pmd.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <cerrno>
#include <cstring>

namespace {

constexpr uint16_t kMaxDesc = 4096;
constexpr uint16_t kMinDesc = 32;

struct Instant {
  uint16_t nb_desc;
  uint16_t next;      // ring index the next copy gets
  uint16_t reported;  // ring index of the oldest copy not yet reported complete
  uint16_t unsubmitted;
  uint64_t submitted, completed;
};

// ---- fast path (rte_dma_fp_object) ----------------------------------------------------------

int instant_copy(void* priv, uint16_t, rte_iova_t src, rte_iova_t dst, uint32_t len, uint64_t flags) {
  auto* d = static_cast<Instant*>(priv);
  if (static_cast<uint16_t>(d->next - d->reported) >= d->nb_desc) return -ENOSPC;
  // SVA: IOVAs are process virtual addresses.
  std::memcpy(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), len);
  ++d->unsubmitted;
  if (flags & RTE_DMA_OP_FLAG_SUBMIT) {
    d->submitted += d->unsubmitted;
    d->unsubmitted = 0;
  }
  return d->next++;
}

int instant_submit(void* priv, uint16_t) {
  auto* d = static_cast<Instant*>(priv);
  d->submitted += d->unsubmitted;
  d->unsubmitted = 0;
  return 0;
}

uint16_t instant_done(Instant* d, uint16_t n, uint16_t* last) {
  const uint16_t ready = static_cast<uint16_t>(d->next - d->reported);
  const uint16_t k = n < ready ? n : ready;
  d->reported = static_cast<uint16_t>(d->reported + k);
  d->completed += k;
  *last = static_cast<uint16_t>(d->reported - 1);
  return k;
}

uint16_t instant_completed(void* priv, uint16_t, uint16_t n, uint16_t* last, bool* err) {
  *err = false;
  return instant_done(static_cast<Instant*>(priv), n, last);
}

uint16_t instant_completed_status(void* priv, uint16_t, uint16_t n, uint16_t* last, rte_dma_status_code* st) {
  const uint16_t k = instant_done(static_cast<Instant*>(priv), n, last);
  for (uint16_t i = 0; i < k; ++i) st[i] = RTE_DMA_STATUS_SUCCESSFUL;
  return k;
}

uint16_t instant_capacity(const void* priv, uint16_t) {
  const auto* d = static_cast<const Instant*>(priv);
  return static_cast<uint16_t>(d->nb_desc - static_cast<uint16_t>(d->next - d->reported));
}

// ---- control path (rte_dma_dev_ops) ---------------------------------------------------------

Instant* priv_of(const rte_dma_dev* dev) { return static_cast<Instant*>(dev->data->dev_private); }

int instant_info(const rte_dma_dev*, rte_dma_info* info, uint32_t) {
  info->dev_capa = RTE_DMA_CAPA_MEM_TO_MEM | RTE_DMA_CAPA_SVA | RTE_DMA_CAPA_OPS_COPY;
  info->max_vchans = 1;
  info->max_desc = kMaxDesc;
  info->min_desc = kMinDesc;
  return 0;
}

int instant_configure(rte_dma_dev*, const rte_dma_conf*, uint32_t) { return 0; }

int instant_vchan_setup(rte_dma_dev* dev, uint16_t, const rte_dma_vchan_conf* conf, uint32_t) {
  if (!rte_is_power_of_2(conf->nb_desc)) {
    RTE_LOG(ERR, PMD, "dma_instant: nb_desc %u is not a power of two\n", conf->nb_desc);
    return -EINVAL;
  }
  priv_of(dev)->nb_desc = conf->nb_desc;
  return 0;
}

int instant_start(rte_dma_dev* dev) {
  Instant* d = priv_of(dev);
  d->next = d->reported = d->unsubmitted = 0;
  return 0;
}

int instant_stop(rte_dma_dev*) { return 0; }
int instant_close(rte_dma_dev*) { return 0; }

int instant_stats_get(const rte_dma_dev* dev, uint16_t, rte_dma_stats* st, uint32_t) {
  const Instant* d = priv_of(dev);
  st->submitted = d->submitted;
  st->completed = d->completed;
  st->errors = 0;
  return 0;
}

int instant_stats_reset(rte_dma_dev* dev, uint16_t) {
  priv_of(dev)->submitted = priv_of(dev)->completed = 0;
  return 0;
}

int instant_vchan_status(const rte_dma_dev*, uint16_t, enum rte_dma_vchan_status* status) {
  *status = RTE_DMA_VCHAN_IDLE;  // nothing is ever in progress
  return 0;
}

const rte_dma_dev_ops kOps = [] {
  rte_dma_dev_ops o{};
  o.dev_info_get = instant_info;
  o.dev_configure = instant_configure;
  o.dev_start = instant_start;
  o.dev_stop = instant_stop;
  o.dev_close = instant_close;
  o.vchan_setup = instant_vchan_setup;
  o.stats_get = instant_stats_get;
  o.stats_reset = instant_stats_reset;
  o.vchan_status = instant_vchan_status;
  return o;
}();

int instant_probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  rte_dma_dev* dev = rte_dma_pmd_allocate(name, static_cast<int>(rte_socket_id()), sizeof(Instant));
  if (!dev) {
    RTE_LOG(ERR, PMD, "dma_instant: cannot allocate dmadev %s\n", name);
    return -ENOMEM;
  }
  dev->device = &vdev->device;
  dev->dev_ops = &kOps;
  rte_dma_fp_object& fp = *dev->fp_obj;
  fp.dev_private = dev->data->dev_private;
  fp.copy = instant_copy;
  fp.submit = instant_submit;
  fp.completed = instant_completed;
  fp.completed_status = instant_completed_status;
  fp.burst_capacity = instant_capacity;
  *priv_of(dev) = Instant{kMinDesc, 0, 0, 0, 0, 0};
  dev->state = RTE_DMA_DEV_READY;
  return 0;
}

int instant_remove(rte_vdev_device* vdev) { return rte_dma_pmd_release(rte_vdev_device_name(vdev)); }

rte_vdev_driver g_instant_drv = [] {
  rte_vdev_driver d{};
  d.probe = instant_probe;
  d.remove = instant_remove;
  return d;
}();

}  // namespace

RTE_PMD_REGISTER_VDEV(dma_instant, g_instant_drv);
