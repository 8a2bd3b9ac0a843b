#!/usr/bin/env python3
"""Renders the shipped report template with Jinja2 (python3-jinja2) on the
same data as render_bench, checks the text is identical, and prints
{"render.seed.jinja2_ns_per_op": N} for scripts/bench.sh.

Given render_bench as well (scripts/jinja_bench.py FOLDER RENDER_BENCH),
the two take turns, three rounds, each the best of five runs, and it also
prints the best BM_RenderSeed as "render.seed.best_ns_per_op":
both sides then meet the same moments of a noisy machine and are counted
the same way (the fastest run, the one least disturbed).

The Jinja2 template is translated mechanically from the flattened Mustache
template (render_bench writes it): {{a.b}} -> {{ a.b }},
{{#a.zero}}..{{/a.zero}} -> {% if a.zero %}..{% endif %}, {{^x}} -> {% if not x %}.
"""
import json
import re
import subprocess
import sys
import timeit

import jinja2


def translate(mustache):
    def tag(m):
        sigil, name = m.group(1), m.group(2)
        if sigil == "#":
            return "{%% if %s %%}" % name
        if sigil == "^":
            return "{%% if not %s %%}" % name
        if sigil == "/":
            return "{% endif %}"
        return "{{ %s }}" % name
    return re.sub(r"\{\{([#^/]?)([a-z_.]+)\}\}", tag, mustache)


def main():
    folder = sys.argv[1]
    flat = open(f"{folder}/render_flat.mustache", encoding="utf-8").read()
    context = json.load(open(f"{folder}/render_context.json", encoding="utf-8"))
    expected = open(f"{folder}/render_expected.txt", encoding="utf-8").read()
    env = jinja2.Environment(keep_trailing_newline=True, autoescape=False)
    template = env.from_string(translate(flat))
    out = template.render(**context)
    if out != expected:
        sys.stderr.write("jinja2 output differs from govreport's; not comparing\n")
        sys.exit(1)
    runs = 2000

    def jinja_best_ns():
        best = min(timeit.repeat(lambda: template.render(**context), number=runs, repeat=5))
        return best / runs * 1e9

    if len(sys.argv) < 3:
        print(json.dumps({"render.seed.jinja2_ns_per_op": round(jinja_best_ns())}))
        return
    ours, theirs = [], []
    for _ in range(3):
        ours.append(render_bench_best_ns(sys.argv[2]))
        theirs.append(jinja_best_ns())
    print(json.dumps({"render.seed.jinja2_ns_per_op": round(min(theirs)),
                      "render.seed.best_ns_per_op": round(min(ours))}))


def render_bench_best_ns(binary):
    """The fastest of five BM_RenderSeed runs of render_bench."""
    out = subprocess.run(
        [binary, "--benchmark_filter=BM_RenderSeed$", "--benchmark_repetitions=5",
         "--benchmark_min_time=0.2", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    runs = [b["real_time"] for b in json.loads(out)["benchmarks"]
            if b.get("run_type") == "iteration"]
    return min(runs)


if __name__ == "__main__":
    main()
