#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Runs the loopback demo briefly and checks that frames moved each way it
# should, with no mbuf leaked (vnet-loopback exits non-zero on a leak).
#   demo_smoke.sh <vnet-loopback> [vnet-loopback options...]
set -euo pipefail
bin=$1
shift
out=$("$bin" --duration 1 --warmup 0.5 --csv "$@" 2>/tmp/vnet-demo-smoke.$$.err) || {
    cat /tmp/vnet-demo-smoke.$$.err >&2
    rm -f /tmp/vnet-demo-smoke.$$.err
    echo "FAILED: vnet-loopback $* exited non-zero" >&2
    exit 1
}
rm -f /tmp/vnet-demo-smoke.$$.err
line=$(grep -E '^(ours|dpdk),' <<<"$out" | tail -n1)
echo "$line"
IFS=, read -r _fe _be _ring _size mode _q _rs _dma _secs v2h _ h2v _ _drops _share <<<"$line"
positive() { awk -v x="$1" 'BEGIN { exit !(x > 0) }'; }
case $mode in
    tx) positive "$v2h" || { echo "FAILED: nothing reached the backend" >&2; exit 1; } ;;
    rx) positive "$h2v" || { echo "FAILED: nothing reached the frontend" >&2; exit 1; } ;;
    *) positive "$v2h" && positive "$h2v" || { echo "FAILED: frames did not go both ways" >&2; exit 1; } ;;
esac
# --xstats: both ports' sections, each with its queue 0 counter of the
# direction that carried frames (tx mode: frontend sent, backend received).
if [[ " $* " == *" --xstats "* ]]; then
    xstat() {  # <port section> <counter>: the counter's value in that section (empty if absent)
        awk -v sec="xstats of $1 " -v name="$2" 'index($0, sec) == 1 { on = 1; next }
            /^xstats of / { on = 0 } on && $1 == name { print $2 }' <<<"$out"
    }
    for want in "net_vnet_user0 tx_q0_packets" "net_vnet_vhost0 rx_q0_packets"; do
        v=$(xstat $want)
        positive "${v:-0}" || { echo "FAILED: --xstats printed no non-zero ${want#* } for ${want% *}" >&2; exit 1; }
    done
fi
