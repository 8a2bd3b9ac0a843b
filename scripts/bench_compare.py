#!/usr/bin/env python3
"""Compares two results files of scripts/bench.sh, figure by figure.

  scripts/bench_compare.py build/bench/results.prev.json build/bench/results.json

Prints "figure  before  after  change" for every numeric figure present in
both, and marks with "WORSE" the ones that moved the wrong way by more than
10%. Which way is better is read from the figure's name:

  lower is better   *_per_op *_per_doc *_ms *_us *_mb *_seconds, p50/p99, *.errors,
                    bytes per record and per key (redis.bytes_per_record*,
                    redis.kind.*, *_bytes),
                    *.flatness (1m / 1k: 1.0 is flat), the *_us_1k/_1m queries
  higher is better  *rps *_per_s ratio* speedup*

Not judged (printed with "peer" or "size" in place of a verdict):
  peers: what a figure is compared against, which measures the machine, not
    govreport (mstch, Jinja2, LibreOffice, the echo server, raw Redis, raw XREAD, the
    pre-issue-9 union "_before");
  sizes: what the run was asked to do (records, orgs, samples, replicas,
    workers, ops, limits); they differ between --quick and full runs.
A figure whose before is 0 has no relative change; errors are WORSE on any
increase. Always exits 0: the comparison informs, it never fails a bench.
"""
import json
import re
import sys

THRESHOLD = 0.10

PEER = re.compile(r"(mstch|jinja2|libreoffice|echo_rps|redis_raw|xread_per_s|_before$)")
SIZE = re.compile(
    r"(\.big_records$|\.orgs$|\.samples$|\.replicas$|workers_per_replica$|"
    r"\.ops$|limit_mb$|attacker_persons$|^redis\.records$)")
LOWER = re.compile(
    r"(_per_op$|_per_doc$|_ms$|_us$|_mb$|[._]seconds$|p50|p99|\.errors$|errors$|flatness$|_us_1k$|_us_1m$|"
    r"_us_idle$|bytes_per_record|^redis\.kind\.|_bytes$)")
HIGHER = re.compile(r"(rps|[._]per_s$|ratio|speedup)")
# A ratio to a peer names the peer but judges govreport.
SPEEDUP = re.compile(r"(ratio|speedup)")


def direction(name):
    """'lower', 'higher', 'peer' or 'size'."""
    if SPEEDUP.search(name):
        return "higher"
    if PEER.search(name):
        return "peer"
    if SIZE.search(name):
        return "size"
    if LOWER.search(name):
        return "lower"
    if HIGHER.search(name):
        return "higher"
    return "size"


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(before, after):
    rows = []
    worse = 0
    for name in sorted(set(before) & set(after)):
        b, a = before[name], after[name]
        if not (is_number(b) and is_number(a)):
            if b != a:
                rows.append((name, str(b), str(a), "changed", ""))
            continue
        way = direction(name)
        change = "n/a" if b == 0 else f"{(a - b) / abs(b) * 100:+.1f}%"
        if way in ("peer", "size"):
            verdict = way
        elif name.endswith("errors"):
            verdict = "WORSE" if a > b else ""
        elif b == 0:
            verdict = ""
        else:
            rel = (a - b) / abs(b)
            bad = rel > THRESHOLD if way == "lower" else rel < -THRESHOLD
            verdict = "WORSE" if bad else ""
        worse += verdict == "WORSE"
        rows.append((name, f"{b:g}", f"{a:g}", change, verdict))
    return rows, worse


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 0
    try:
        with open(argv[1]) as f:
            before = json.load(f)
        with open(argv[2]) as f:
            after = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench_compare: cannot compare: {e}", file=sys.stderr)
        return 0
    if before.get("bench.mode") != after.get("bench.mode"):
        print(f"note: the previous run was {before.get('bench.mode', 'unknown')}, this one "
              f"{after.get('bench.mode', 'unknown')}: sizes differ, so do the figures")
    rows, worse = compare(before, after)
    header = ("figure", "before", "after", "change", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    for r in [header] + rows:
        print("  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i])
                        for i in range(4)) + ("  " + r[4] if r[4] else ""))
    print(f"{worse} figure(s) worse by more than {THRESHOLD:.0%} "
          "(lower is better for times, sizes in MB and errors; higher for rates, ratios, "
          "speedups; peer and size figures are not judged)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
