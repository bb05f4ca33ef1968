#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
"""What the backend's asynchronous copy path costs our side, in instructions.

Runs vnet-dma-bench --count under valgrind's callgrind, collecting only
inside the backend's bursts (counted_enqueue / counted_dequeue, one run per
direction), once with CPU copies and once with DMA through dma_instant (a
dmadev whose copies are done when submitted, benchmarks/instant_dma.cc).
callgrind_annotate attributes the instructions by function: the dmadev
driver's own functions (instant_*, with what they call: the memcpy that is
the copy) are the device's, everything else is ours. Reports per packet:

  ours        instructions on our side (the driver's excluded)
  copy        of those, the CPU's payload copies (cpu_copy_big and below)
  ours-copy   our side without the copying itself
  async/copy  (ours-copy with DMA - ours-copy with CPU) / offloaded copies:
              what handing a copy to the engine costs our side beyond what
              the synchronous path does anyway

Instruction counts do not drift with machine load; one run is enough.
  benchmarks/dma_cost.py [--bench build/release/benchmarks/vnet-dma-bench]
                         [--rings packed,split] [--size 1518] [--rounds 4000]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = re.compile(r"instant_")  # dma_instant's functions (the device's side)
COPY = re.compile(r"cpu_copy_big")  # our CPU copy of a payload piece (out of line)


def run_counted(bench, ring, engine, size, rounds, direction, outdir):
    """One callgrind run; returns (counts line fields, profile path)."""
    fn = "counted_enqueue" if direction == "enqueue" else "counted_dequeue"
    prof = os.path.join(outdir, f"cg.{ring}.{engine}.{direction}")
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={prof}", f"--toggle-collect=*{fn}*",
        bench, "--count", str(rounds), "--engines", engine, "--thresholds", "0", "--rings", ring,
        "--sizes", str(size),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    for line in p.stdout.splitlines():
        if line.startswith("count ") and f"dir={direction}" in line:
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv), prof
    raise SystemExit(f"no count line for {direction} in:\n{p.stdout}")


def attribute(prof):
    """Total Ir, the driver's inclusive Ir, the CPU copies' inclusive Ir."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", prof],
                         capture_output=True, text=True, check=True).stdout
    total = driver = copy = 0
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if not m:
            continue
        ir, name = int(m.group(1).replace(",", "")), m.group(2)
        if name == "PROGRAM TOTALS":
            total = ir
            continue
        # "file:function [object]" is a function's whole (inclusive) cost;
        # lines without the object are its parts by source file (inlined
        # code) and would count it twice. None of instant_* calls another,
        # nor does cpu_copy_big: each inclusive figure stands alone.
        if not name.endswith("]"):
            continue
        fn = name.split(":", 1)[1] if ":" in name else name
        if DRIVER.search(fn):
            driver += ir
        elif COPY.search(fn):
            copy += ir
    return total, driver, copy


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build/release/benchmarks/vnet-dma-bench"))
    ap.add_argument("--rings", default="packed,split")
    ap.add_argument("--size", type=int, default=1518)
    ap.add_argument("--rounds", type=int, default=4000)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vnet-dma-cost-") as tmp:
        for ring in a.rings.split(","):
            for direction in ("enqueue", "dequeue"):
                per = {}
                for engine in ("cpu", "instant"):
                    c, prof = run_counted(a.bench, ring, engine, a.size, a.rounds, direction, tmp)
                    total, driver, copy = attribute(prof)
                    pk, dma = int(c["packets"]), int(c["dma_copies"])
                    if pk == 0:
                        raise SystemExit(f"{ring} {engine} {direction}: no packets moved")
                    per[engine] = dict(pk=pk, dma=dma, cpu=int(c["cpu_copies"]), total=total, driver=driver,
                                       copy=copy, ours=total - driver)
                cpu, dma = per["cpu"], per["instant"]
                if dma["dma"] == 0:
                    raise SystemExit(f"{ring} {direction}: no copy went to dma_instant")
                base = (cpu["ours"] - cpu["copy"]) / cpu["pk"]
                extra = (dma["ours"] - dma["copy"]) - base * dma["pk"]
                rows.append((ring, direction, cpu, dma, base, extra / dma["dma"]))
    print(f"instructions per packet, {a.size} B frames, {a.rounds} bursts of 32 per direction "
          "(valgrind --tool=callgrind, inside the backend's bursts)")
    print("| ring | direction | CPU: ours | CPU: copy | CPU: ours-copy | DMA: ours | DMA: driver | "
          "DMA: copies/pkt | async/copy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for ring, direction, cpu, dma, base, per_copy in rows:
        print(f"| {ring} | {direction} | {cpu['ours'] / cpu['pk']:.1f} | {cpu['copy'] / cpu['pk']:.1f} | "
              f"{base:.1f} | {dma['ours'] / dma['pk']:.1f} | {dma['driver'] / dma['pk']:.1f} | "
              f"{dma['dma'] / dma['pk']:.2f} | {per_copy:.1f} |")


if __name__ == "__main__":
    main()
