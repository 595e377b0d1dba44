#!/usr/bin/env python3
"""How a SplitStream parent's pushes leave, real against the simulator.

Used by order.sh (results/validate/README.md, "The delay before the kernel's
queue"). Reads one traced real run's records (SWARMLAB_TRACE=1,
`run.sh seed6-trace` / `netns-seed-trace`) and the output of
`tree-trace SCENARIO SEED <host draw> 500 all` for the same seed (the
simulator with the real processes' own generators), and prints one line per
side:

- hops: for every chunk a node received first from its stripe parent (the
  sender of its last accepting JoinAck of that stripe before the arrival),
  arrival minus the parent's own arrival (the source: the chunk's emission,
  seq x 1 s); median and mean in seconds;
- delivery: arrival minus emission over every first arrival; median;
- gap: per (parent, chunk) with two or more such children, the time between
  successive children's arrivals; median by the parent's upload (kbps);
- rank: in the groups of three or more children that mix forwarders
  (children that accepted a child of their own in that stripe in the 10 s
  before the arrival) and leaves, each forwarder's position among the
  children in arrival order, 0 = first, 1 = last; the mean. The protocol
  pushes to forwarders first (protocols/src/tree.rs), so a link that keeps
  the send order reads well below 0.5, and one that shuffles it about 0.5.
"""
import csv
import glob
import os
import re
import statistics as st
import sys
from collections import defaultdict

STRIPES = 4


def real(d):
    arr, acks, ups = defaultdict(dict), defaultdict(list), {}
    for f in glob.glob(os.path.join(d, "records", "node-*.csv")):
        n = int(os.path.basename(f)[5:-4])
        for r in csv.reader(open(f)):
            if len(r) < 4:
                continue
            if r[1] == "start":
                ups[n] = int(r[3]) // 1000
            elif r[1] == "arrived":
                arr[n].setdefault(int(r[2]), int(r[0]) / 1e9)
            elif r[1] == "msg_in" and r[3].startswith("JoinAck") and "accept: true" in r[3]:
                s = int(re.search(r"stripe: (\d+)", r[3]).group(1))
                acks[(n, s)].append((int(r[0]) / 1e9, int(r[2])))
    return arr, acks, ups


def sim(p):
    arr, acks, ups = defaultdict(dict), defaultdict(list), {}
    for line in open(p):
        if not line.startswith("msg "):
            continue
        _, t, n, io, peer, m = line.rstrip("\n").split(" ", 5)
        t, n, peer = int(t) / 1e9, int(n), int(peer)
        if io == "msg_in" and m.startswith("Chunk"):
            arr[n].setdefault(int(re.search(r"seq: (\d+)", m).group(1)), t)
        elif io == "msg_in" and m.startswith("JoinAck") and "accept: true" in m:
            acks[(n, int(re.search(r"stripe: (\d+)", m).group(1)))].append((t, peer))
        elif io == "msg_out" and m.startswith("Register"):
            ups[n] = int(re.search(r"up_kbps: (\d+)", m).group(1))
    return arr, acks, ups


def analyse(arr, acks, ups):
    fwd_since = defaultdict(list)  # (parent, stripe) -> times it accepted a child
    for (n, s), v in acks.items():
        for t, p in v:
            fwd_since[(p, s)].append(t)
    hops, delivery = [], []
    groups = defaultdict(list)  # (parent, seq) -> [(arrival, forwarder?)]
    for n, got in arr.items():
        if n <= 1:
            continue
        for seq, t in got.items():
            delivery.append(t - seq)
            s = seq % STRIPES
            ps = [p for ta, p in acks.get((n, s), []) if ta <= t]
            if not ps:
                continue
            parent = ps[-1]
            tp = float(seq) if parent == 1 else arr.get(parent, {}).get(seq)
            if tp is None or tp > t:
                continue
            hops.append(t - tp)
            fwd = any(t - 10 <= ta <= t for ta in fwd_since.get((n, s), []))
            groups[(parent, seq)].append((t, fwd))
    gaps, ranks = defaultdict(list), []
    for (parent, _), v in groups.items():
        v.sort()
        gaps[ups.get(parent, 1500 if parent == 1 else None)] += [b[0] - a[0] for a, b in zip(v, v[1:])]
        f = [x for _, x in v]
        if len(f) >= 3 and any(f) and not all(f):
            ranks += [i / (len(f) - 1) for i, x in enumerate(f) if x]
    return hops, delivery, gaps, ranks


def main():
    label, rundir, trace = sys.argv[1:4]
    for side, data in (("real", real(rundir)), ("sim ", sim(trace))):
        hops, delivery, gaps, ranks = analyse(*data)
        g = "  ".join(
            f"{k}: {st.median(v):.3f}" for k, v in sorted(gaps.items(), key=lambda kv: str(kv[0])) if v and k
        )
        print(
            f"{label:<40} {side}  hops {len(hops)} median {st.median(hops):.3f} mean {st.mean(hops):.3f}"
            f" | delivery median {st.median(delivery):.3f}"
            f" | forwarders' rank {st.mean(ranks):.3f} ({len(ranks)})"
            f" | gap median by parent kbps  {g}"
        )


if __name__ == "__main__":
    main()
