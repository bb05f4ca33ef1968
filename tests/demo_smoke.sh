#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Runs the loopback demo briefly and checks that frames moved each way it
# should, with no mbuf leaked (vnet-loopback exits non-zero on a leak). When
# our backend's copies went through a dmadev (its CSV line says dma on;
# --dma on always, auto with a hardware engine), also that copies went
# through it, as many as the threshold the backend logged says should
# (xstats and the DMA share).
#   demo_smoke.sh <vnet-loopback> [vnet-loopback options...] [-- EAL options]
set -euo pipefail
bin=$1
shift

# What the demo will do: the last --dma, --dma-threshold, --size given win.
opts=() eal=() dma=auto backend=ours threshold="" size=64 xstats=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --) shift; eal=("$@"); break ;;
        --dma) dma=${2:-} ;;
        --dma-threshold) threshold=${2:-} ;;
        --backend) backend=${2:-} ;;
        --size) size=${2:-} ;;
        --xstats) xstats=1 ;;
    esac
    opts+=("$1")
    shift
done
[[ $backend == ours ]] || dma=off  # the demo ignores --dma with DPDK's net_vhost
if [[ $dma != off ]]; then
    # Every counter of the backend, and its log line naming the threshold it
    # uses (INFO of the backend only: the demo's global level is notice).
    [[ $xstats -eq 1 ]] || opts+=(--xstats)
    eal+=(--log-level=info '--log-level=*:notice' --log-level=pmd.net.vnet.vhost:info)
fi

err=/tmp/vnet-demo-smoke.$$.err
trap 'rm -f "$err"' EXIT
out=$("$bin" --duration 1 --warmup 0.5 --csv "${opts[@]}" -- "${eal[@]}" 2>"$err") || {
    cat "$err" >&2
    echo "FAILED: vnet-loopback ${opts[*]} -- ${eal[*]} exited non-zero" >&2
    exit 1
}
line=$(grep -E '^(ours|dpdk),' <<<"$out" | tail -n1)
echo "$line"
IFS=, read -r _fe _be _ring _size mode _q _rs used_dma _secs v2h _ h2v _ _drops share <<<"$line"
# > 0 only: how many frames a second moves is up to the machine.
positive() { awk -v x="$1" 'BEGIN { exit !(x > 0) }'; }
case $mode in
    tx) positive "$v2h" || { echo "FAILED: nothing reached the backend" >&2; exit 1; } ;;
    rx) positive "$h2v" || { echo "FAILED: nothing reached the frontend" >&2; exit 1; } ;;
    *) positive "$v2h" && positive "$h2v" || { echo "FAILED: frames did not go both ways" >&2; exit 1; } ;;
esac
# --xstats: both ports' sections, each with its queue 0 counter of the
# direction that carried frames (tx mode: frontend sent, backend received).
if [[ $xstats -eq 1 ]]; then
    xstat() {  # <port section> <counter>: the counter's value in that section (empty if absent)
        awk -v sec="xstats of $1 " -v name="$2" 'index($0, sec) == 1 { on = 1; next }
            /^xstats of / { on = 0 } on && $1 == name { print $2 }' <<<"$out"
    }
    for want in "net_vnet_user0 tx_q0_packets" "net_vnet_vhost0 rx_q0_packets"; do
        v=$(xstat $want)
        positive "${v:-0}" || { echo "FAILED: --xstats printed no non-zero ${want#* } for ${want% *}" >&2; exit 1; }
    done
fi
case $dma/$used_dma in
    on/on | auto/* | off/off) ;;
    *) echo "FAILED: --dma $dma, but the demo's copies went dma $used_dma" >&2; exit 1 ;;
esac
[[ $used_dma == on ]] || exit 0

# DMA: the threshold the backend started its dmadev with (and the one asked for).
logged=$(sed -n 's/.*dmadev .* started, .* threshold \([0-9][0-9]*\) B.*/\1/p' "$err" | head -n1)
[[ -n $logged ]] || { cat "$err" >&2; echo "FAILED: the backend logged no dmadev start" >&2; exit 1; }
if [[ -n $threshold && $threshold != "$logged" ]]; then
    echo "FAILED: --dma-threshold $threshold asked, the backend uses $logged" >&2
    exit 1
fi
# Every backend queue that carried frames, from its xstats (only non-zero ones
# are printed): frames of at least the threshold went through the dmadev
# without errors, smaller ones (all their copies are smaller) did not; every
# payload byte was copied; no DMA copy was below the threshold; and, unless
# the dmadev's ring was full at times (a fallback sends the rest of that frame
# to the CPU), no CPU copy was at or above it (threshold 0: none at all).
# Prints each queue; exits 2 when none carried frames, 1 on a failed check,
# else 0; "fallbacks N" last.
check_queues() {
    awk -v t="$logged" -v size="$size" '
        index($0, "xstats of net_vnet_vhost0 ") == 1 { on = 1; next }
        /^xstats of / { on = 0 }
        on && match($1, /^(rx|tx)_q[0-9]+_/) {
            q = substr($1, 1, RLENGTH); x[q, substr($1, RLENGTH + 1)] = $2; qs[q] = 1
        }
        END {
            bad = 0; n = 0; fbs = 0
            for (q in qs) {
                pk = x[q, "packets"] + 0
                if (pk == 0) continue
                ++n
                by = x[q, "bytes"] + 0; dc = x[q, "dma_copies"] + 0; db = x[q, "dma_bytes"] + 0
                cc = x[q, "cpu_copies"] + 0; cb = x[q, "cpu_bytes"] + 0
                fb = x[q, "dma_fallbacks"] + 0; er = x[q, "dma_errors"] + 0
                fbs += fb
                why = ""
                if (size >= t && dc == 0) why = "no copy went through the dmadev"
                else if (size < t && dc > 0) why = "frames below the threshold went through the dmadev"
                else if (er > 0) why = "DMA errors"
                else if (db + cb < by) why = "fewer bytes copied than the queue carried"
                else if (db < t * dc) why = "DMA copies below the threshold"
                else if (fb == 0 && cc > 0 && cb >= t * cc) why = "CPU copies at or above the threshold without a fallback"
                printf "backend %s: %.0f frames, %.0f B; dma copies %.0f (%.0f B), cpu copies %.0f (%.0f B), " \
                       "fallbacks %.0f, dma errors %.0f; threshold %.0f -> %s%s\n", q, pk, by, dc, db, cc, cb, fb, er, t,
                       why == "" ? "ok" : "FAILED: ", why
                if (why != "") bad = 1
            }
            printf "fallbacks %.0f\n", fbs
            exit n == 0 ? 2 : bad
        }' <<<"$out"
}
rc=0
report=$(check_queues) || rc=$?
grep -v '^fallbacks ' <<<"$report" || true
[[ $rc -ne 2 ]] || { echo "FAILED: no backend queue in --xstats carried frames" >&2; exit 1; }
[[ $rc -eq 0 ]] || { echo "FAILED: the backend's DMA counters (above)" >&2; exit 1; }
fallbacks=$(sed -n 's/^fallbacks //p' <<<"$report")
# The share of bytes over the measured second agrees: some when frames reach
# the threshold, none when they do not; all at threshold 0 unless the ring
# was ever full.
share=${share%\%}
if [[ $size -ge $logged ]] && ! positive "${share:-0}" || [[ $size -lt $logged && $share != 0.0 ]]; then
    echo "FAILED: DMA share ${share:-none}% with ${size} B frames, threshold $logged" >&2
    exit 1
fi
if [[ $logged -eq 0 && $fallbacks -eq 0 && $share != 100.0 ]]; then
    echo "FAILED: DMA share $share% at threshold 0 without a fallback (want 100.0%)" >&2
    exit 1
fi
echo "DMA: threshold $logged B, share $share%, fallbacks $fallbacks: ok"
