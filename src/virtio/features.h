// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Feature bits of virtio 1.2/1.3: device-independent (section 6) and net
// device (section 5.1.3). Bit numbers only; negotiation lives in the transports.
#pragma once

#include <cstdint>

namespace vnet::virtio {

constexpr uint64_t bit(unsigned n) noexcept { return uint64_t{1} << n; }
constexpr bool has(uint64_t features, unsigned n) noexcept { return (features >> n) & 1; }

namespace feat {
// Device-independent (reserved) bits.
inline constexpr unsigned NOTIFY_ON_EMPTY = 24;  // legacy only
inline constexpr unsigned ANY_LAYOUT = 27;       // legacy only
inline constexpr unsigned INDIRECT_DESC = 28;
inline constexpr unsigned EVENT_IDX = 29;
inline constexpr unsigned VERSION_1 = 32;
inline constexpr unsigned ACCESS_PLATFORM = 33;
inline constexpr unsigned RING_PACKED = 34;
inline constexpr unsigned IN_ORDER = 35;
inline constexpr unsigned ORDER_PLATFORM = 36;
inline constexpr unsigned SR_IOV = 37;
inline constexpr unsigned NOTIFICATION_DATA = 38;
inline constexpr unsigned NOTIF_CONFIG_DATA = 39;
inline constexpr unsigned RING_RESET = 40;
inline constexpr unsigned PROTOCOL_FEATURES = 30;  // vhost-user only (VHOST_USER_F_PROTOCOL_FEATURES)

// virtio-net.
inline constexpr unsigned NET_CSUM = 0;
inline constexpr unsigned NET_GUEST_CSUM = 1;
inline constexpr unsigned NET_CTRL_GUEST_OFFLOADS = 2;
inline constexpr unsigned NET_MTU = 3;
inline constexpr unsigned NET_MAC = 5;
inline constexpr unsigned NET_GSO = 6;  // legacy
inline constexpr unsigned NET_GUEST_TSO4 = 7;
inline constexpr unsigned NET_GUEST_TSO6 = 8;
inline constexpr unsigned NET_GUEST_ECN = 9;
inline constexpr unsigned NET_GUEST_UFO = 10;
inline constexpr unsigned NET_HOST_TSO4 = 11;
inline constexpr unsigned NET_HOST_TSO6 = 12;
inline constexpr unsigned NET_HOST_ECN = 13;
inline constexpr unsigned NET_HOST_UFO = 14;
inline constexpr unsigned NET_MRG_RXBUF = 15;
inline constexpr unsigned NET_STATUS = 16;
inline constexpr unsigned NET_CTRL_VQ = 17;
inline constexpr unsigned NET_CTRL_RX = 18;
inline constexpr unsigned NET_CTRL_VLAN = 19;
inline constexpr unsigned NET_CTRL_RX_EXTRA = 20;
inline constexpr unsigned NET_GUEST_ANNOUNCE = 21;
inline constexpr unsigned NET_MQ = 22;
inline constexpr unsigned NET_CTRL_MAC_ADDR = 23;
inline constexpr unsigned NET_HASH_TUNNEL = 51;
inline constexpr unsigned NET_VQ_NOTF_COAL = 52;
inline constexpr unsigned NET_NOTF_COAL = 53;
inline constexpr unsigned NET_GUEST_USO4 = 54;
inline constexpr unsigned NET_GUEST_USO6 = 55;
inline constexpr unsigned NET_HOST_USO = 56;
inline constexpr unsigned NET_HASH_REPORT = 57;
inline constexpr unsigned NET_GUEST_HDRLEN = 59;
inline constexpr unsigned NET_RSS = 60;
inline constexpr unsigned NET_RSC_EXT = 61;
inline constexpr unsigned NET_STANDBY = 62;
inline constexpr unsigned NET_SPEED_DUPLEX = 63;
}  // namespace feat

// Device status bits (section 2.1).
namespace status {
inline constexpr uint8_t ACKNOWLEDGE = 1;
inline constexpr uint8_t DRIVER = 2;
inline constexpr uint8_t DRIVER_OK = 4;
inline constexpr uint8_t FEATURES_OK = 8;
inline constexpr uint8_t DEVICE_NEEDS_RESET = 64;
inline constexpr uint8_t FAILED = 128;
}  // namespace status

}  // namespace vnet::virtio
