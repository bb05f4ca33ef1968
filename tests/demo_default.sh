#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# The loopback demo as `tools/vnet demo` runs it, briefly: with the defaults
# it copies on the CPU (this machine has no hardware dmadev; a software one
# is not used unless asked), forwards frames both ways and prints no DPDK
# start-up noise; --verbose brings that back; --dma on goes through DPDK's
# dma_skeleton, says what that costs, and sends 1518 B frames' bytes to it.
#   demo_default.sh <vnet-loopback> defaults|dma-on
set -euo pipefail
bin=$1 what=$2
fail() { printf 'FAILED: %s\n--- output ---\n%s\n' "$1" "$out" >&2; exit 1; }
run() { out=$("$bin" --duration 1 --warmup 0.5 "$@" 2>&1) || fail "vnet-loopback $* exited non-zero"; }
# The summary's figure of a row ("frames", "Mpps", ...) in column $2 (1: virtio->vhost, 2: vhost->virtio).
summary() { awk -v row="$1" -v col="$2" 'index($0, "  " row " ") == 1 { n = split($0, f, / +/); print f[n - 2 + col] }' <<<"$out"; }
positive() { awk -v x="$1" 'BEGIN { exit !(x > 0) }'; }
# Noise DPDK prints at start-up when its logs are not lowered.
noise='TELEMETRY:|EAL: Detected'

defaults() {
    run
    grep -q '^vnet-loopback: .*, CPU copies' <<<"$out" || fail "the banner does not say CPU copies"
    ! grep -q 'dma_skeleton' <<<"$out" || fail "dma_skeleton used by default"
    for col in 1 2; do
        positive "$(summary frames $col)" || fail "no frames in summary column $col"
    done
    ! grep -Eq "$noise" <<<"$out" || fail "start-up noise without --verbose"
    echo "defaults: CPU copies, $(summary Mpps 1) / $(summary Mpps 2) Mpps, quiet: ok"

    run --verbose
    grep -Eq "$noise" <<<"$out" || fail "--verbose printed none of DPDK's start-up messages"
    echo "--verbose: start-up messages shown: ok"
}

dma_on() {
    run --dma on --size 1518
    grep -q '^vnet-loopback: .*, DMA copies via dma_skeleton0' <<<"$out" ||
        fail "--dma on: the banner does not name dma_skeleton0"
    grep -q "^note: dma_skeleton0 is DPDK's software dmadev" <<<"$out" ||
        fail "--dma on: no note on what the software dmadev costs"
    share=$(awk '/DMA share of bytes/ { print $NF }' <<<"$out")
    positive "${share%\%}" || fail "--dma on: DMA share ${share:-none} with 1518 B frames"
    for col in 1 2; do
        positive "$(summary frames $col)" || fail "--dma on: no frames in summary column $col"
    done
    echo "--dma on: dma_skeleton0, DMA share $share: ok"
}

case $what in
    defaults) defaults ;;
    dma-on) dma_on ;;
    *) echo "usage: demo_default.sh <vnet-loopback> defaults|dma-on" >&2; exit 2 ;;
esac
