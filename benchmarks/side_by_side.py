#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
"""Side-by-side benchmark: our frontend and backend against DPDK's pair.

Runs tools/vnet-loopback over the matrix
  pairs {DPDK+DPDK, ours+DPDK vhost, DPDK virtio-user+ours, ours+ours[, DMA]}
  x rings {split, packed} x sizes {64, 1518} x modes {tx, rx, fwd}
in one sitting. Each repetition visits every cell once, in a fresh random
order, so machine drift hits all cells alike; each cell's median over the
repetitions is compared with the DPDK pair's median for the same ring, size
and mode. Then, under valgrind --tool=callgrind, it counts the instructions
per frame spent in each side's burst functions (vnet-loopback --lockstep), a
figure that does not drift with machine load.

Writes into --out: runs.csv (every run), cells.csv (median, spread, ratio),
instructions.csv, results.md (the tables the README links) and ratios.svg.

  benchmarks/side_by_side.py [--reps 3] [--duration 2] [--out DIR]
"""
import argparse
import csv
import datetime
import os
import random
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAIRS = {  # name: (frontend, backend, dma)
    "dpdk+dpdk": ("dpdk", "dpdk", False),
    "ours+dpdk": ("ours", "dpdk", False),
    "dpdk+ours": ("dpdk", "ours", False),
    "ours+ours": ("ours", "ours", False),
    "ours+ours-dma": ("ours", "ours", True),
}
MODES = {"tx": "virtio transmits", "rx": "virtio receives", "fwd": "io-forward both ways"}


def loopback(args, extra):
    cmd = [args.bin, "--csv", "--quiet", "--duration", str(args.duration), "--warmup", str(args.warmup)] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    line = [l for l in p.stdout.splitlines() if l.count(",") >= 14][-1]
    f = line.split(",")
    return {"v2h_mpps": float(f[9]), "v2h_gbps": float(f[10]), "h2v_mpps": float(f[11]), "h2v_gbps": float(f[12]),
            "drops": int(f[13]), "dma_share": f[14]}


def cell_args(pair, ring, size, mode, args):
    fe, be, dma = PAIRS[pair]
    return ["--frontend", fe, "--backend", be, "--ring", ring, "--size", str(size), "--mode", mode,
            "--dma", "on" if dma else "off"] + (["--dma-threshold", str(args.dma_threshold)] if dma else [])


def metric(mode, r):
    # tx: what the backend received; rx: what the frontend received; fwd:
    # frames forwarded per second, each way (the two directions are equal).
    if mode == "tx":
        return r["v2h_mpps"]
    if mode == "rx":
        return r["h2v_mpps"]
    return (r["v2h_mpps"] + r["h2v_mpps"]) / 2


def run_matrix(args):
    cells = [(p, r, s, m) for p in args.pairs for r in args.rings for s in args.sizes for m in args.modes]
    runs = []
    rng = random.Random(args.seed)
    total = len(cells) * args.reps
    done = 0
    for rep in range(args.reps):
        order = cells[:]
        rng.shuffle(order)
        for c in order:
            done += 1
            try:
                r = loopback(args, cell_args(*c, args))
                v = metric(c[3], r)
            except (RuntimeError, subprocess.TimeoutExpired, IndexError) as e:
                print("  run failed: %s" % e, file=sys.stderr)
                r, v = {}, float("nan")
            runs.append({"rep": rep, "pair": c[0], "ring": c[1], "size": c[2], "mode": c[3], "mpps": v,
                         "drops": r.get("drops", ""), "dma_share": r.get("dma_share", "")})
            print("[%3d/%d] rep %d %-14s %-6s %5d B %-3s %7.3f Mpps" % (done, total, rep, c[0], c[1], c[2], c[3], v),
                  flush=True)
    return runs


def summarise(runs, args):
    by = {}
    for r in runs:
        if r["mpps"] == r["mpps"]:  # not NaN
            by.setdefault((r["pair"], r["ring"], r["size"], r["mode"]), []).append(r["mpps"])
    out = []
    for p in args.pairs:
        for ring in args.rings:
            for size in args.sizes:
                for mode in args.modes:
                    v = by.get((p, ring, size, mode), [])
                    ref = by.get(("dpdk+dpdk", ring, size, mode), [])
                    med = statistics.median(v) if v else float("nan")
                    refmed = statistics.median(ref) if ref else float("nan")
                    spread = (max(v) - min(v)) / med * 100 if v and med else float("nan")
                    out.append({"pair": p, "ring": ring, "size": size, "mode": mode, "n": len(v), "median_mpps": med,
                                "min_mpps": min(v) if v else float("nan"), "max_mpps": max(v) if v else float("nan"),
                                "spread_pct": spread, "ratio": med / refmed if refmed and refmed == refmed else float("nan")})
    return out


# ---- instruction counts (callgrind) ----

def parse_callgrind(path):
    """Inclusive Ir of the calls made from lockstep_round, by (object, fn)."""
    names = {"ob": {}, "fn": {}}
    def name(kind, s):
        m = re.match(r"\((\d+)\)(?: (.*))?$", s)
        if not m:
            return s
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), "?")
    cur_fn = cur_ob = None
    cob = cfn = None
    costs = {}
    pending_call = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if pending_call:
                pending_call = False
                if cur_fn and "lockstep_round" in cur_fn:
                    ir = int(line.split()[-1])
                    costs[(cob or cur_ob, cfn)] = costs.get((cob or cur_ob, cfn), 0) + ir
                cob = None
                continue
            if line.startswith("ob="):
                cur_ob = name("ob", line[3:])
            elif line.startswith("fn="):
                cur_fn = name("fn", line[3:])
            elif line.startswith("cob="):
                cob = name("ob", line[4:])
            elif line.startswith("cfn="):
                cfn = name("fn", line[4:])
            elif line.startswith("calls="):
                pending_call = True
    return costs


def symbol_offsets(obj):
    """Demangled symbol name -> offset, from nm (empty for stripped objects)."""
    p = subprocess.run(["nm", "-C", "--defined-only", obj], capture_output=True, text=True)
    out = {}
    for l in p.stdout.splitlines():
        m = re.match(r"([0-9a-f]+) \w (.*)$", l)
        if m:
            out[m.group(2)] = int(m.group(1), 16)
    return out


def count_instructions(args, pair, ring, size):
    fe, be, _ = PAIRS[pair]
    out = os.path.join(args.out, "callgrind.%s.%s.%d" % (pair, ring, size))
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--collect-atstart=no",
           "--toggle-collect=*lockstep_round*", args.bin, "--frontend", fe, "--backend", be, "--ring", ring,
           "--size", str(size), "--dma", "off", "--lockstep", str(args.rounds)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("callgrind run failed: %s" % p.stderr[-2000:])
    m = re.search(r"virtio sent (\d+) frames, received (\d+)", p.stdout)
    sent, received = int(m.group(1)), int(m.group(2))
    where = {}
    for what, obj, off in re.findall(r"burst (\S+) (\S+) 0x([0-9a-f]+)", p.stdout):
        where[what] = (os.path.realpath(obj), int(off, 16))
    costs = parse_callgrind(out)
    syms = {}
    per = {}
    for what in ("virtio_tx", "virtio_rx", "vhost_rx", "vhost_tx"):
        obj, off = where[what]
        total = 0
        for (cob, cfn), ir in costs.items():
            if os.path.realpath(cob or "") != obj:
                continue
            if cfn.startswith("0x"):
                hit = int(cfn, 16) == off
            else:
                if obj not in syms:
                    syms[obj] = symbol_offsets(obj)
                hit = syms[obj].get(cfn) == off
            if hit:
                total += ir
        per[what] = total
    # Our backend serves Rx and Tx through one function: count it once.
    if where["vhost_rx"] == where["vhost_tx"]:
        per["vhost_tx"] = 0
    return {"pair": pair, "ring": ring, "size": size, "frames": sent,
            "virtio_tx_ir": per["virtio_tx"] / sent, "virtio_rx_ir": per["virtio_rx"] / received,
            "vhost_ir": (per["vhost_rx"] + per["vhost_tx"]) / sent}


# ---- output ----

def write_svg(cells, args, path):
    rows = [c for c in cells if c["pair"] != "dpdk+dpdk"]
    groups = [(r, s, m) for r in args.rings for s in args.sizes for m in args.modes]
    pairs = [p for p in args.pairs if p != "dpdk+dpdk"]
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    bw, gap, h, top, left = 12, 14, 300, 40, 50
    width = left + len(groups) * (len(pairs) * bw + gap) + 20
    vals = [c["ratio"] for c in rows if c["ratio"] == c["ratio"]]
    vmax = max([2.0] + vals)
    y = lambda v: top + h - v / vmax * h
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">'
         % (width, top + h + 90)]
    s.append('<text x="%d" y="20" font-size="13">Throughput relative to DPDK net_virtio_user + net_vhost (1.0 = same)</text>' % left)
    for t in [0, 0.5, 1.0, 1.5, 2.0] + ([vmax] if vmax > 2 else []):
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>' % (left, width - 10, y(t), y(t), "#000" if t == 1.0 else "#ddd"))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (left - 4, y(t) + 3, t))
    x = left + 5
    for g in groups:
        for i, p in enumerate(pairs):
            c = next((c for c in rows if (c["ring"], c["size"], c["mode"], c["pair"]) == g + (p,)), None)
            if c and c["ratio"] == c["ratio"]:
                s.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s %d B %s: %.2f</title></rect>'
                         % (x + i * bw, y(c["ratio"]), bw - 1, top + h - y(c["ratio"]), colours[i % 5], p, *g, c["ratio"]))
        s.append('<text x="%d" y="%d" transform="rotate(45 %d %d)">%s %d %s</text>'
                 % (x, top + h + 12, x, top + h + 12, g[0], g[1], g[2]))
        x += len(pairs) * bw + gap
    for i, p in enumerate(pairs):
        s.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>'
                 % (left + i * 110, top + h + 70, colours[i % 5], left + i * 110 + 14, top + h + 79, p))
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s))


def write_markdown(cells, instr, args, path, cmdline):
    L = ["# vnet side-by-side benchmark", "",
         "Made by `%s` on %s (%d repetitions per cell, %g s each after %g s warm-up, cells interleaved in a random "
         "order per repetition). One process, one core per side, `--no-huge`; DMA rows use DPDK's software "
         "`dma_skeleton`, whose copy thread competes for the same two cores." % (cmdline, datetime.date.today(),
                                                                                   args.reps, args.duration, args.warmup),
         "", "Mpps, median over the repetitions (spread = (max-min)/median); ratio = median / DPDK pair's median.", ""]
    hdr = "| ring | size | mode | " + " | ".join(args.pairs) + " |"
    L += [hdr, "|" + " --- |" * (3 + len(args.pairs))]
    for ring in args.rings:
        for size in args.sizes:
            for mode in args.modes:
                row = "| %s | %d B | %s |" % (ring, size, MODES[mode])
                for p in args.pairs:
                    c = next(c for c in cells if (c["pair"], c["ring"], c["size"], c["mode"]) == (p, ring, size, mode))
                    if p == "dpdk+dpdk":
                        row += " %.2f (±%.0f%%) |" % (c["median_mpps"], c["spread_pct"] / 2)
                    else:
                        row += " %.2f (±%.0f%%) **%.2f×** |" % (c["median_mpps"], c["spread_pct"] / 2, c["ratio"])
                L.append(row)
    if instr:
        L += ["", "## Instructions per frame (callgrind, `vnet-loopback --lockstep %d`)" % args.rounds, "",
              "Inclusive instruction counts of each burst function, per frame; they do not drift with machine load.",
              "", "| pair | ring | size | virtio Tx | virtio Rx | backend Rx+Tx |", "| --- | --- | --- | --- | --- | --- |"]
        for i in instr:
            L.append("| %s | %s | %d B | %.0f | %.0f | %.0f |" % (i["pair"], i["ring"], i["size"], i["virtio_tx_ir"],
                                                                  i["virtio_rx_ir"], i["vhost_ir"]))
    L += ["", "Raw data: `runs.csv`, `cells.csv`, `instructions.csv`; chart: `ratios.svg`.", ""]
    with open(path, "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/release/tools/vnet-loopback"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--rings", default="split,packed")
    ap.add_argument("--sizes", default="64,1518")
    ap.add_argument("--modes", default="tx,rx,fwd")
    ap.add_argument("--dma-threshold", type=int, default=0, help="for the -dma pairs (0: every copy to DMA)")
    ap.add_argument("--rounds", type=int, default=20000, help="lockstep rounds under callgrind")
    ap.add_argument("--no-instructions", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.pairs = args.pairs.split(",")
    if "dpdk+dpdk" not in args.pairs:
        args.pairs.insert(0, "dpdk+dpdk")
    args.rings = args.rings.split(",")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.modes = args.modes.split(",")
    args.out = args.out or os.path.join(ROOT, "build/bench", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(args.out, exist_ok=True)
    cmdline = "benchmarks/side_by_side.py " + " ".join(sys.argv[1:])

    runs = run_matrix(args)
    cells = summarise(runs, args)
    with open(os.path.join(args.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(runs[0]))
        w.writeheader()
        w.writerows(runs)
    with open(os.path.join(args.out, "cells.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(cells[0]))
        w.writeheader()
        w.writerows(cells)
    instr = []
    if not args.no_instructions and shutil.which("valgrind"):
        for pair in [p for p in args.pairs if not PAIRS[p][2]]:
            for ring in args.rings:
                for size in args.sizes:
                    print("callgrind: %s %s %d B" % (pair, ring, size), flush=True)
                    instr.append(count_instructions(args, pair, ring, size))
        with open(os.path.join(args.out, "instructions.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(instr[0]))
            w.writeheader()
            w.writerows(instr)
    write_svg(cells, args, os.path.join(args.out, "ratios.svg"))
    write_markdown(cells, instr, args, os.path.join(args.out, "results.md"), cmdline)
    print(open(os.path.join(args.out, "results.md")).read())
    print("written to %s" % args.out)


if __name__ == "__main__":
    main()
