// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Freeing a burst of consumed mbufs, shared by the frontend's Tx reclaim and
// the backend's enqueue. Invariant: what goes back to a pool satisfies the
// pool's (refcnt 1, next NULL, nb_segs 1); anything unusual takes DPDK's own
// rte_pktmbuf_free.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace vnet {

// Most mbufs a free_mbufs() call returns to a pool at once.
inline constexpr uint16_t kFreeBatch = 64;

// One-segment mbufs whose last reference this was go back to their pool in
// bulk (a pool change flushes the batch); chains, shared, indirect and
// external-buffer mbufs through rte_pktmbuf_free. Inline: rte_pktmbuf_free_bulk
// is a library call that re-walks every mbuf. Out of line, once a burst:
// every translation unit compiles the same body, so the linker's pick among
// them cannot change its cost.
[[gnu::noinline]] inline void free_mbufs(rte_mbuf* const* ms, uint16_t n) {
  void* raw[kFreeBatch];
  uint16_t k = 0;
  rte_mempool* mp = nullptr;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = ms[i];
    // Already as the pool keeps it (refcnt 1, one segment, no next), and
    // its own buffer: nothing to undo.
    if (m->next == nullptr && m->nb_segs == 1 && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m)) [[likely]] {
      if (m->pool != mp || k == kFreeBatch) {
        if (k) rte_mempool_put_bulk(mp, raw, k);
        k = 0;
        mp = m->pool;
      }
      raw[k++] = m;
    } else {
      rte_pktmbuf_free(m);
    }
  }
  if (k) rte_mempool_put_bulk(mp, raw, k);
}

}  // namespace vnet
