#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Quick same-run throughput check: our net_vnet_user (plugin, -d) and DPDK's
# net_virtio_user, each against DPDK's net_vhost in a second stock
# dpdk-testpmd; 64 B and 1518 B, split and packed, both directions.
# "tx": the frontend runs txonly, net_vhost rxonly (measured at net_vhost's Rx);
# "rx": net_vhost runs txonly, the frontend rxonly (measured at the frontend's Rx).
# Each process gets one forwarding core (frontend lcore 1@0, vhost 1@1).
# Numbers are the median of the one-second Rx-pps samples from the first
# full second of traffic on (leading zeros while the other side starts, and
# the first partial second, left out), without the last (shut-down).
# usage: benchmarks/quick-user-pair.sh [build/release/plugins/librte_net_vnet.so] [seconds]
set -u
plugin=$(realpath "${1:-build/release/plugins/librte_net_vnet.so}")
secs=${2:-8}
tp=$(command -v dpdk-testpmd)
work=$(mktemp -d /tmp/vnet-qb-XXXXXX)
trap 'rm -rf "$work"' EXIT

rx_pps() {  # median Rx-pps in a testpmd --stats-period log, start-up and shut-down samples left out
  grep -ao 'Rx-pps: *[0-9]*' "$1" | awk '{print $2}' | awk 'on || $1 > 0 {if (on) print; on = 1}' | sed '$d' | sort -n |
    awk '{v[n++]=$1} END {if (n) printf "%.2f", v[int(n/2)]/1e6; else print "n/a"}'
}

run() {  # driver ring size dir
  local drv=$1 ring=$2 size=$3 dir=$4 sock="$work/s.sock" vfwd ffwd
  local packed=$([ "$ring" = packed ] && echo 1 || echo 0)
  if [ "$dir" = tx ]; then vfwd=rxonly; ffwd=txonly; else vfwd=txonly; ffwd=rxonly; fi
  rm -f "$sock"
  "$tp" --no-huge -m 1024 --no-pci --file-prefix=qbv$$ --lcores 0@1,1@1 \
    --vdev "net_vhost0,iface=$sock,queues=1" -- --forward-mode=$vfwd --txpkts=$size \
    --auto-start --stats-period=1 --nb-cores=1 --total-num-mbufs=32768 --rxd=1024 --txd=1024 \
    </dev/null >"$work/v.log" 2>&1 &
  local vp=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  local dargs=() vdev
  if [ "$drv" = vnet ]; then
    dargs=(-d "$plugin"); vdev="net_vnet_user0,path=$sock,packed_vq=$packed"
  else
    vdev="net_virtio_user0,path=$sock,packed_vq=$packed"
  fi
  "$tp" --no-huge -m 1024 --no-pci --file-prefix=qbf$$ --lcores 0@0,1@0 "${dargs[@]}" \
    --vdev "$vdev" -- --forward-mode=$ffwd --txpkts=$size --auto-start --stats-period=1 \
    --nb-cores=1 --total-num-mbufs=32768 --rxd=1024 --txd=1024 </dev/null >"$work/f.log" 2>&1 &
  local fp=$!
  sleep "$secs"
  kill -INT $fp; wait $fp 2>/dev/null
  kill -INT $vp; wait $vp 2>/dev/null
  if [ "$dir" = tx ]; then rx_pps "$work/v.log"; else rx_pps "$work/f.log"; fi
}

printf '| ring | size | dir | net_vnet_user Mpps | net_virtio_user Mpps |\n| --- | --- | --- | --- | --- |\n'
for ring in split packed; do
  for size in 64 1518; do
    for dir in tx rx; do
      a=$(run vnet $ring $size $dir)
      b=$(run virtio $ring $size $dir)
      printf '| %s | %s | %s | %s | %s |\n' $ring $size $dir "$a" "$b"
    done
  done
done
