// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The transport interface between the ethdev and a virtio device: features,
// config, queue set-up, start/stop. Control path only (virtual is fine here);
// the data path's only transport action, the kick, is a plain Notifier.
#pragma once

#include <unistd.h>

#include <cstdint>

#include "virtio/net_hdr.h"

namespace vnet::net {

// How to notify the device that a queue has new buffers.
struct Notifier {
  int fd = -1;                        // eventfd (virtio-user)
  volatile uint16_t* mmio = nullptr;  // notify register (PCI)
  uint16_t value = 0;                 // what to write to mmio (queue index)
  // Any other doorbell: write(*this). A legacy I/O port; virtio-user's
  // control queue, whose device is served in process by this call.
  void (*write)(const Notifier&) = nullptr;
  void* ctx = nullptr;
  void kick() const {
    if (fd >= 0) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t r =
          ::write(fd, &one, sizeof one);  // EAGAIN: counter saturated, a kick is pending anyway
    } else if (mmio) {
      *mmio = value;
    } else if (write) {
      write(*this);
    }
  }
};

// Where a queue's ring parts are, as addresses the device understands.
struct QueueAddrs {
  uint32_t size;
  uint64_t desc, avail, used;  // packed: avail = driver event area, used = device event area
};

// What a transport reports from its own thread (virtio-user's socket
// monitor, the EAL interrupt thread for PCI): the device went away, or it is
// back (handshake done, features re-committed) and waits for the rings to be
// started again; or its configuration changed (a PCI config-change
// interrupt, 4.1.4.5): the link status may read differently now.
enum class TransportEvent { Down, Up, Config };
using TransportEventFn = void (*)(void* arg, TransportEvent ev);

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // Device offer, valid after probe.
  virtual uint64_t device_features() const = 0;
  // Commit the driver's feature set (FEATURES_OK where the transport has it).
  virtual int set_features(uint64_t features) = 0;
  // Net config space fields the device provides; false when unavailable.
  virtual bool read_config(virtio::NetConfig* cfg) = 0;
  virtual uint16_t max_queue_pairs() const = 0;
  virtual uint32_t max_queue_size() const = 0;  // 0: no limit beyond the spec's
  // true: ring and buffer addresses are this process's virtual addresses.
  virtual bool uses_va() const = 0;
  // Called for every virtqueue before start(); fills the kick notifier.
  virtual int setup_queue(uint16_t vq, const QueueAddrs& a, Notifier* kick) = 0;
  // All queues set up: make the device run (memory table, rings, DRIVER_OK).
  // -ENOTCONN: no device right now; an Up event follows when there is one.
  virtual int start(uint16_t nvqs) = 0;
  // Stop the device processing the rings (the driver then reclaims buffers).
  virtual int stop() = 0;
  virtual bool link_up() = 0;
  // A legacy (virtio 0.9.5) device: 32 feature bits, no VERSION_1, split
  // rings only, used ring aligned to 4096 (2.7 "Legacy Interfaces").
  virtual bool legacy() const { return false; }
  // Feature bits the transport itself handles (e.g. ACCESS_PLATFORM for a
  // device behind an IOMMU); accepted whenever the device offers them.
  virtual uint64_t transport_features() const { return 0; }
  // hold(true): control-path I/O with the device that is under way in
  // another thread (a reconnect, a restart), or that starts before
  // hold(false), gives up at once, so that stop and close never wait on a
  // device that stalls. stop() itself is bounded by its own deadline.
  // Calls nest. Default: a transport whose I/O cannot stall (PCI).
  virtual void hold(bool) {}
  // The ethdev's handler for TransportEvents, set once before the transport
  // may report any; called from the transport's own thread, never with a
  // transport lock held (the handler takes the port lock). Default: no
  // events.
  virtual void set_event_handler(TransportEventFn, void*) {}
};

}  // namespace vnet::net
