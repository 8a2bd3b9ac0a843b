#!/usr/bin/env python3
"""Checks deploy/grafana/govreport.json: valid JSON, every panel on the
${DS_PROMETHEUS} input, every target querying at least one metric, and
every metric its queries use (with or without a label selector, histogram
suffixes _bucket/_count/_sum dropped) documented in docs/observability.md
and registered in services/common/metrics.cc (.Name("X"), or a
...Gauge/Counter/Histogram("X", ...) helper that names the family).
usage: check_dashboard.py SOURCE_DIR
"""
import json
import os
import re
import sys

# PromQL words that are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges
    # by (...), without (...), on (...), ...: label lists.
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = []
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue  # a function or an aggregation
        names.append(re.sub(r"_(?:bucket|count|sum)$", "", word))
    return names


def registered(name, code):
    return re.search(r'(?:\.Name|Gauge|Counter|Histogram)\(\s*"' + re.escape(name) + r'"', code) is not None


def main():
    source = sys.argv[1]
    with open(os.path.join(source, "deploy/grafana/govreport.json"), encoding="utf-8") as f:
        dash = json.load(f)
    with open(os.path.join(source, "docs/observability.md"), encoding="utf-8") as f:
        doc = f.read()
    with open(os.path.join(source, "services/common/metrics.cc"), encoding="utf-8") as f:
        code = f.read()
    failures = []
    if [i["name"] for i in dash.get("__inputs", [])] != ["DS_PROMETHEUS"]:
        failures.append("the dashboard's only input must be DS_PROMETHEUS")
    checked = set()
    for panel in dash["panels"]:
        title = panel.get("title")
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            failures.append(f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
        if panel.get("type") != "row" and not panel.get("targets"):
            failures.append(f"panel {title!r}: no targets")
        for target in panel.get("targets", []):
            names = metric_names(target.get("expr", ""))
            if not names:
                failures.append(f"panel {title!r}: no metric in {target.get('expr')!r}")
            for name in names:
                checked.add(name)
                if f"`{name}`" not in doc:
                    failures.append(f"panel {title!r}: {name} is not in docs/observability.md")
                if not registered(name, code):
                    failures.append(f"panel {title!r}: {name} is not registered in "
                                    "services/common/metrics.cc")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(dash['panels'])} panels checked, metrics: {', '.join(sorted(checked))}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
