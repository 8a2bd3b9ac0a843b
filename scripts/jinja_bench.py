#!/usr/bin/env python3
"""Renders the shipped report template with Jinja2 (python3-jinja2) on the
same data as render_bench, checks the text is identical, and prints
{"render.seed.jinja2_ns_per_op": N} for scripts/bench.sh.

The Jinja2 template is translated mechanically from the flattened Mustache
template (render_bench writes it): {{a.b}} -> {{ a.b }},
{{#a.zero}}..{{/a.zero}} -> {% if a.zero %}..{% endif %}, {{^x}} -> {% if not x %}.
"""
import json
import re
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
    best = min(timeit.repeat(lambda: template.render(**context), number=runs, repeat=5))
    print(json.dumps({"render.seed.jinja2_ns_per_op": round(best / runs * 1e9)}))


if __name__ == "__main__":
    main()
