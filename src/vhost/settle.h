// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Control path of the asynchronous data path: after quiesce(), settle() waits
// (bounded) for a ring's copies in flight and publishes them, stopping the
// engine if they never complete; discard() frees the frames the application
// never took. Invariant: once both ran, nothing writes the ring's guest
// memory or its queued mbufs any more, and its async queue is empty.
#pragma once

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include "vhost/async_queue.h"
#include "vhost/copy_engine.h"
#include "common/log.h"
#include "vhost/vring.h"

namespace vnet::vhost {

// Ring quiesced: wait (at most ~1 s) for this ring's copies, publish them;
// if they never complete, stop the device so no late copy can write into
// memory about to be unmapped, and drop those packets.
template <class Dev, class Api, bool Deq>
void settle(Vring& v) {
  AsyncQueue* q = v.aq;
  if (!q || q->pub == q->tail) return;
  Dev& dev = v.dq.template as<Dev>();
  DmaChan& ch = *q->ch;
  while (!ch.try_lock()) rte_pause();  // a burst of another ring on this channel: it ends soon
  const uint64_t t0 = rte_get_timer_cycles(), limit = rte_get_timer_hz();
  for (;;) {
    if (ch.rung != ch.sub) {
      Api::submit(ch.dev, ch.vchan);
      ch.rung = ch.sub;
    }
    dma_poll<Api>(ch);
    publish_done<Dev, Deq>(v, dev);
    if (q->pub == q->tail) break;
    if (rte_get_timer_cycles() - t0 > limit) {
      VNET_VHOST_LOG(ERR, "dmadev %d vchan %u: %u packet(s) still in flight after 1 s; stopping the device", ch.dev,
                     ch.vchan, q->in_flight());
      dma_kill<Api>(ch);
      publish_done<Dev, Deq>(v, dev);
      break;
    }
    rte_pause();
  }
  ch.unlock();
  finish(v, dev);
}

// After settle: free frames never delivered (ring reset or queue released)
// and empty the queue.
inline void discard(Vring& v) {
  AsyncQueue* q = v.aq;
  if (!q) return;
  while (!q->ch->try_lock()) rte_pause();  // drive_channel() reads these indexes
  for (uint16_t i = q->head; i != q->tail; ++i) {
    rte_mbuf*& m = q->mt[AsyncQueue::ix(i)];
    if (m && !(q->fl[AsyncQueue::ix(i)] & kAbandoned)) {
      rte_pktmbuf_free(m);
      ++v.st.dropped;
    }
    m = nullptr;
  }
  q->head = q->pub = q->tail = q->odd = 0;
  q->uhead = q->utail = 0;
  q->ch->unlock();
}

}  // namespace vnet::vhost
