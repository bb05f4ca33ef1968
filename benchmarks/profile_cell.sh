#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Where the time of one benchmark cell goes: runs vnet-loopback under
# `perf record -e cpu-clock` (time-based sampling, which works in VMs without
# hardware counters) and prints the hottest functions and, for the named
# burst functions, their hottest source lines. Instruction counts (callgrind,
# side_by_side.py) say how much work a frame costs; this says where the two
# cores wait, which on a 2-core loopback is mostly cache lines moving
# between them.
#
#   benchmarks/profile_cell.sh [vnet-loopback options...]
#   benchmarks/profile_cell.sh --frontend ours --backend dpdk --ring packed --size 64 --mode fwd
#
# Needs perf (Debian: linux-perf). DPDK's own libraries carry no symbols, so
# their time shows as addresses inside librte_*.so.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${VNET_LOOPBACK:-$here/build/release/tools/vnet-loopback}
command -v perf >/dev/null || { echo "profile_cell.sh: perf not found (apt-get install linux-perf)" >&2; exit 2; }
[ -x "$bin" ] || { echo "profile_cell.sh: $bin not built (tools/vnet build)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
perf record -q -e cpu-clock -F 5000 -o "$out/perf.data" -- \
  "$bin" --dma off --duration 3 --warmup 1 --quiet "$@" | sed -n '/summary/,$p'
echo
echo "hottest functions (share of all samples, both cores):"
perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep '%' | head -15 || true
mapfile -t syms < <(perf report -i "$out/perf.data" --no-children --sort sym --stdio 2>/dev/null |
                    sed -n 's/^ *[0-9.]*% *\[\.\] *\(vnet::.*\)$/\1/p' | head -4 || true)
for sym in "${syms[@]}"; do
  echo
  echo "hottest lines of $sym:"
  perf annotate -i "$out/perf.data" --stdio -l -s "$sym" 2>/dev/null </dev/null |
    grep -E '^\s+[0-9]+\.[0-9]+ +[A-Za-z0-9_]+\.(h|cc):[0-9]+$' | sort -rn | head -5 || true
done
