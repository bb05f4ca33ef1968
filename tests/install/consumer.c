/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vnet authors
 * A C application of the installed libvnet (tests/install/consumer.sh builds
 * it from libvnet.pc alone): the driver registered itself (the static library
 * is linked whole), a net_vnet_vhost port exists and the public API answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <vnet/rte_pmd_vnet_vhost.h>

int main(int argc, char** argv) {
  if (rte_eal_init(argc, argv) < 0) {
    printf("FAIL: rte_eal_init\n");
    return 1;
  }
  int bad = 0;
  struct rte_eth_dev_info info;
  const uint16_t n = rte_eth_dev_count_avail();
  if (n != 1 || rte_eth_dev_info_get(0, &info) != 0) {
    printf("FAIL: %u ports, expected the one net_vnet_vhost0\n", n);
    bad = 1;
  } else if (strcmp(info.driver_name, "net_vnet_vhost") != 0) {
    printf("FAIL: port 0 is driven by %s, not net_vnet_vhost\n", info.driver_name);
    bad = 1;
  } else {
    const int inflight = rte_pmd_vnet_vhost_inflight(0, 0, 1);
    if (inflight != 0) {
      printf("FAIL: rte_pmd_vnet_vhost_inflight(0, 0, 1) = %d, expected 0 (CPU copies)\n", inflight);
      bad = 1;
    }
  }
  rte_eal_cleanup();
  printf("%s\n", bad ? "FAIL" : "PASS");
  return bad;
}
