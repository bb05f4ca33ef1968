#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
"""The benchmark of record: two dpdk-testpmd processes, as users run them.

One process is the frontend (a virtio-user port: DPDK's net_virtio_user or our
net_vnet_user, in a default and a fastest configuration), pinned with its
forwarding lcore to CPU 0; the other is the backend (DPDK's net_vhost or our
net_vnet_vhost), pinned to CPU 1. Both run `--no-huge`, interactive (`-i`),
and this script drives them over stdin:

  tx  frontend txonly, backend rxonly; measured: the backend's Rx-pps
  rx  backend txonly, frontend rxonly; measured: the frontend's Rx-pps
  io  both io-forward, the frontend seeded with `start tx_first` (one burst);
      measured: the frontend's Rx-pps (frames per second, each way)

The figure is testpmd's own Rx-pps (`show port stats`), one sample a second
after a warm-up, averaged over the run. A pair (frontend, backend, ring)
starts once per repetition and runs its six (size, mode) cells in a fresh
random order; the pairs themselves run in a fresh random order every
repetition, so machine drift hits all alike.

This machine is bimodal: any configuration sometimes runs at a third of its
speed. So each cell reports the fast mode (the median of the upper half of
its repetitions) and how many repetitions were in it (within 0.6x of that
figure); ratios are fast mode over fast mode. The reference is DPDK's
fastest frontend (vectorized=1,in_order=1,mrg_rxbuf=0 with
--force-max-simd-bitwidth=512) against DPDK's vhost, same ring, size and mode.

  benchmarks/testpmd_pair.py [--reps 7] [--out DIR] [--rings packed] ...

Writes into --out: runs.csv (every sample), cells.csv and results.md.
Needs root (testpmd), dpdk-testpmd on PATH and the plugin built
(tools/vnet build).
"""
import argparse
import csv
import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# DPDK's virtio logs the Rx/Tx paths it picked at this level: the results say
# which ones ran (the vectorized packed path needs AVX-512, which a CPU may
# not have; DPDK then falls back and says so).
VIRTIO_PATH_LOG = "--log-level=pmd.net.virtio.*:info"
# name: (driver, devargs, extra EAL args, needs the plugin); backends: (driver, devargs)
FRONTENDS = {
    "dpdk": ("net_virtio_user0", "", [VIRTIO_PATH_LOG], False),
    "dpdk-fast": ("net_virtio_user0", ",vectorized=1,in_order=1,mrg_rxbuf=0",
                  ["--force-max-simd-bitwidth=512", VIRTIO_PATH_LOG], False),
    "ours": ("net_vnet_user0", "", [], True),
    "ours-fast": ("net_vnet_user0", ",in_order=1,mrg_rxbuf=0", [], True),
}
BACKENDS = {
    "dpdk": ("net_vhost0", ",queues=1"),
    "ours": ("net_vnet_vhost0", ""),
}
MODES = {"tx": "frontend transmits", "rx": "frontend receives", "io": "io-forward both ways"}
REFERENCE = ("dpdk-fast", "dpdk")
SLOW_FRACTION = 0.6


class Testpmd:
    """One interactive dpdk-testpmd, its output collected by a thread."""

    def __init__(self, args, log):
        # stdbuf: testpmd's printf output to a pipe is block-buffered, the
        # prompt is not; unbuffered keeps the two in order.
        self.log = open(log, "wb")
        self.p = subprocess.Popen(["stdbuf", "-o0"] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            d = os.read(self.p.stdout.fileno(), 65536)
            if not d:
                break
            self.log.write(d)
            with self.lock:
                self.buf += d

    def cmd(self, line, timeout=15):
        """Sends one command; returns its output, up to the next prompt."""
        with self.lock:
            start = len(self.buf)
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                out = self.buf[start:]
            if b"testpmd> " in out:
                return out.decode(errors="replace")
            if self.p.poll() is not None:
                raise RuntimeError("testpmd exited (%d) at %r" % (self.p.returncode, line))
            time.sleep(0.005)
        raise RuntimeError("testpmd: no prompt after %r" % line)

    def wait_prompt(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if b"testpmd> " in self.buf:
                    return
            if self.p.poll() is not None:
                raise RuntimeError("testpmd exited (%d) during start-up" % self.p.returncode)
            time.sleep(0.02)
        raise RuntimeError("testpmd: no prompt after start-up")

    def rx_pps(self):
        m = re.findall(r"Rx-pps:\s+(\d+)", self.cmd("show port stats 0"))
        if not m:
            raise RuntimeError("no Rx-pps in show port stats")
        return int(m[-1])

    def close(self):
        try:
            if self.p.poll() is None:
                self.p.stdin.write(b"stop\nquit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a hung or dead process is killed below
            pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.reader.join(timeout=2)
        self.log.close()


def eal(prefix, cpu, plugin, extra):
    args = ["dpdk-testpmd", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix=" + prefix,
            "--lcores", "0@%d,1@%d" % (cpu, cpu), "--log-level=lib.eal:warning"] + extra
    return args + (["-d", plugin] if plugin else [])


def start_pair(fe, be, ring, args, work, tag):
    sock = os.path.join(work, "vhost.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    packed = 1 if ring == "packed" else 0
    bdrv, bargs = BACKENDS[be]
    bplug = args.plugin if be == "ours" else None
    back = Testpmd(eal("tpb%d" % os.getpid(), 1, bplug, ["--vdev", "%s,iface=%s%s" % (bdrv, sock, bargs)]) +
                   ["--", "-i", "--nb-cores=1"], os.path.join(work, tag + "-backend.log"))
    try:
        back.wait_prompt()
        end = time.time() + 10
        while not os.path.exists(sock):
            if time.time() > end:
                raise RuntimeError("backend socket %s did not appear" % sock)
            time.sleep(0.02)
        fdrv, fargs, fextra, fplug = FRONTENDS[fe]
        front = Testpmd(eal("tpf%d" % os.getpid(), 0, args.plugin if fplug else None,
                            fextra + ["--vdev", "%s,path=%s,packed_vq=%d%s" % (fdrv, sock, packed, fargs)]) +
                        ["--", "-i", "--nb-cores=1"], os.path.join(work, tag + "-frontend.log"))
    except Exception:
        back.close()
        raise
    try:
        front.wait_prompt()
    except Exception:
        front.close()
        back.close()
        raise
    with front.lock:
        log = front.buf.decode(errors="replace")
    for line in re.findall(r"virtio: using (.* path) on port", log) + re.findall(r"(disabled .*)", log):
        args.paths.setdefault((fe, ring), set()).add(line.strip())
    return front, back


def run_cell(front, back, size, mode, args):
    """Mpps samples of one (size, mode) on a started pair."""
    for tp in (front, back):
        tp.cmd("stop")
        tp.cmd("set txpkts %d" % size)
    if mode in ("tx", "rx"):
        # The receiver starts first and is the one measured.
        meter, sender = (back, front) if mode == "tx" else (front, back)
        meter.cmd("set fwd rxonly")
        sender.cmd("set fwd txonly")
        meter.cmd("start")
        sender.cmd("start")
    else:
        back.cmd("set fwd io")
        front.cmd("set fwd io")
        back.cmd("start")
        front.cmd("start tx_first")
        meter = front
    time.sleep(args.warmup)
    meter.rx_pps()  # opens the first interval
    samples = []
    for _ in range(args.samples):
        time.sleep(1.0)
        samples.append(meter.rx_pps() / 1e6)
    front.cmd("stop")
    back.cmd("stop")
    return samples


def fast_mode(values):
    """Median of the upper half, and how many values are within SLOW_FRACTION of it."""
    v = sorted(x for x in values if x == x)
    if not v:
        return float("nan"), 0, 0
    upper = v[len(v) // 2:]
    fast = statistics.median(upper)
    return fast, sum(1 for x in v if x >= SLOW_FRACTION * fast), len(v)


def run_matrix(args, work):
    pairs = [(fe, be, ring) for fe in args.frontends for be in args.backends for ring in args.rings]
    sub = [(size, mode) for size in args.sizes for mode in args.modes]
    rng = random.Random(args.seed)
    runs = []
    for rep in range(args.reps):
        order = pairs[:]
        rng.shuffle(order)
        for i, (fe, be, ring) in enumerate(order):
            tag = "r%d-%s-%s-%s" % (rep, fe, be, ring)
            cells = sub[:]
            rng.shuffle(cells)
            try:
                front, back = start_pair(fe, be, ring, args, work, tag)
            except RuntimeError as e:
                print("  %s: start failed: %s" % (tag, e), file=sys.stderr)
                for size, mode in cells:
                    runs.append(dict(rep=rep, frontend=fe, backend=be, ring=ring, size=size, mode=mode,
                                     mpps=float("nan"), samples=""))
                continue
            try:
                for size, mode in cells:
                    try:
                        s = run_cell(front, back, size, mode, args)
                        mpps = statistics.mean(s)
                    except RuntimeError as e:
                        print("  %s %d %s: %s" % (tag, size, mode, e), file=sys.stderr)
                        s, mpps = [], float("nan")
                    runs.append(dict(rep=rep, frontend=fe, backend=be, ring=ring, size=size, mode=mode, mpps=mpps,
                                     samples=" ".join("%.3f" % x for x in s)))
                    print("rep %d/%d pair %2d/%d  %-9s + %-4s %-6s %4d B %s: %6.2f Mpps" %
                          (rep + 1, args.reps, i + 1, len(order), fe, be, ring, size, mode, mpps), flush=True)
            finally:
                front.close()
                back.close()
    return runs


def summarise(runs, args):
    cells = {}
    for r in runs:
        cells.setdefault((r["frontend"], r["backend"], r["ring"], r["size"], r["mode"]), []).append(r["mpps"])
    out = {}
    for k, v in cells.items():
        fast, n_fast, n = fast_mode(v)
        out[k] = dict(fast=fast, n_fast=n_fast, n=n, values=v)
    for (fe, be, ring, size, mode), c in out.items():
        ref = out.get((REFERENCE[0], REFERENCE[1], ring, size, mode))
        c["ratio"] = c["fast"] / ref["fast"] if ref and ref["fast"] > 0 else float("nan")
        same_fe = out.get((fe, "dpdk", ring, size, mode))
        c["vs_dpdk_backend"] = (c["fast"] / same_fe["fast"] if be == "ours" and same_fe and same_fe["fast"] > 0
                                else float("nan"))
    return out


def write_results(runs, cells, args, work, cmdline):
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["rep", "frontend", "backend", "ring", "size", "mode", "mpps", "samples"])
        w.writeheader()
        w.writerows(runs)
    with open(os.path.join(args.out, "cells.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frontend", "backend", "ring", "size", "mode", "fast_mpps", "fast_reps", "reps",
                    "ratio_to_reference", "ratio_to_same_frontend_on_dpdk_vhost", "all_mpps"])
        for k in sorted(cells):
            c = cells[k]
            w.writerow(list(k) + ["%.3f" % c["fast"], c["n_fast"], c["n"], "%.3f" % c["ratio"],
                                  "%.3f" % c["vs_dpdk_backend"], " ".join("%.2f" % x for x in c["values"])])
    pairs = [(fe, be) for be in args.backends for fe in args.frontends]
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", cpu)
    simd = [f for f in ("avx512f", "avx2") if re.search(r"\b%s\b" % f, cpu)]
    lines = ["# Two-process testpmd benchmark", "",
             "Made %s at commit %s by `%s`; CPU: %d x %s (%s)." %
             (datetime.date.today().isoformat(), rev.stdout.strip() or "?", cmdline, os.cpu_count(),
              model.group(1).strip() if model else "?", ", ".join(simd) or "no AVX2"), "",
             "Mpps, fast mode (median of the upper half of %d interleaved repetitions); **ratio** to DPDK's fastest "
             "frontend (`%s`) on DPDK's vhost, same ring, size and mode; (k/n): repetitions in the fast mode "
             "(at least %.1fx of it)." % (args.reps, FRONTENDS["dpdk-fast"][1].lstrip(","), SLOW_FRACTION), "",
             "| ring | size | mode | " + " | ".join("%s + %s vhost" % p for p in pairs) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in pairs) + " |"]
    for ring in args.rings:
        for size in args.sizes:
            for mode in args.modes:
                row = []
                for fe, be in pairs:
                    c = cells.get((fe, be, ring, size, mode))
                    if not c or c["fast"] != c["fast"]:
                        row.append("n/a")
                        continue
                    row.append("%.2f **%.2fx** (%d/%d)" % (c["fast"], c["ratio"], c["n_fast"], c["n"]))
                lines.append("| %s | %d B | %s | %s |" % (ring, size, MODES[mode], " | ".join(row)))
    if "ours" in args.backends and "dpdk" in args.backends:
        lines += ["", "Our backend against DPDK's vhost, each frontend (fast mode over fast mode):", "",
                  "| ring | size | mode | " + " | ".join(args.frontends) + " |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in args.frontends) + " |"]
        for ring in args.rings:
            for size in args.sizes:
                for mode in args.modes:
                    row = []
                    for fe in args.frontends:
                        c = cells.get((fe, "ours", ring, size, mode))
                        row.append("%.2fx" % c["vs_dpdk_backend"] if c else "n/a")
                    lines.append("| %s | %d B | %s | %s |" % (ring, size, MODES[mode], " | ".join(row)))
    if args.paths:
        lines += ["", "What DPDK's virtio said it picked, per frontend configuration and ring:", ""]
        for (fe, ring), said in sorted(args.paths.items()):
            lines.append("- %s, %s: %s" % (fe, ring, "; ".join(sorted(said))))
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugin", default=os.path.join(ROOT, "build/release/plugins/librte_net_vnet.so"))
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--samples", type=int, default=2, help="one-second Rx-pps samples per cell")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds of traffic before the first sample")
    ap.add_argument("--frontends", nargs="+", default=list(FRONTENDS), choices=list(FRONTENDS))
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    ap.add_argument("--rings", nargs="+", default=["split", "packed"], choices=["split", "packed"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[64, 1518])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks/results/testpmd"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the testpmd logs (printed path)")
    args = ap.parse_args()
    if not os.path.exists(args.plugin):
        sys.exit("testpmd_pair.py: %s not built (tools/vnet build)" % args.plugin)
    args.plugin = os.path.realpath(args.plugin)
    args.paths = {}
    cmdline = " ".join(["benchmarks/testpmd_pair.py"] + sys.argv[1:])
    work = tempfile.mkdtemp(prefix="vnet-tp-")
    t0 = time.time()
    runs = run_matrix(args, work)
    cells = summarise(runs, args)
    write_results(runs, cells, args, work, cmdline)
    print("\n%d runs in %.0f s; results in %s%s" % (len(runs), time.time() - t0, args.out,
                                                     "; logs in " + work if args.keep_logs else ""))
    if not args.keep_logs:
        subprocess.run(["rm", "-rf", work])
    return 0 if all(r["mpps"] == r["mpps"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
