// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The virtio-net control virtqueue's command set (virtio 1.x section 5.1.6.5):
// class/command numbers, the ack values and the wire layout of the payloads
// this project sends. Constants only; drivers and devices build on them.
#pragma once

#include <cstdint>

#include "virtio/endian.h"

namespace vnet::virtio::ctrl {

// Every command: this header (device-readable), the class-specific payload
// (device-readable), then one ack byte (device-writable).
struct Hdr {
  uint8_t cls;
  uint8_t cmd;
};
static_assert(sizeof(Hdr) == 2);

inline constexpr uint8_t OK = 0;
inline constexpr uint8_t ERR = 1;

inline constexpr uint8_t CLASS_RX = 0;  // needs VIRTIO_NET_F_CTRL_RX; payload: one byte, 0 off / 1 on
inline constexpr uint8_t RX_PROMISC = 0;
inline constexpr uint8_t RX_ALLMULTI = 1;

inline constexpr uint8_t CLASS_MAC = 1;
inline constexpr uint8_t MAC_TABLE_SET = 0;  // CTRL_RX: le32 n + n*6 unicast, then le32 m + m*6 multicast
inline constexpr uint8_t MAC_ADDR_SET = 1;   // CTRL_MAC_ADDR: 6 bytes

inline constexpr uint8_t CLASS_VLAN = 2;  // CTRL_VLAN; payload: le16 vlan id
inline constexpr uint8_t VLAN_ADD = 0;
inline constexpr uint8_t VLAN_DEL = 1;

inline constexpr uint8_t CLASS_ANNOUNCE = 3;
inline constexpr uint8_t ANNOUNCE_ACK = 0;

inline constexpr uint8_t CLASS_MQ = 4;  // MQ; payload: le16 queue pairs, 1..max_virtqueue_pairs
inline constexpr uint8_t MQ_VQ_PAIRS_SET = 0;
inline constexpr uint16_t MQ_VQ_PAIRS_MIN = 1;
inline constexpr uint16_t MQ_VQ_PAIRS_MAX = 0x8000;

}  // namespace vnet::virtio::ctrl
