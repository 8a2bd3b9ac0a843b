#!/usr/bin/env python3
"""Checks deploy/grafana/govreport.json: valid JSON, every panel on the
${DS_PROMETHEUS} input, and every metric its queries use documented in
docs/observability.md.
usage: check_dashboard.py SOURCE_DIR
"""
import json
import os
import re
import sys

source = sys.argv[1]
with open(os.path.join(source, "deploy/grafana/govreport.json"), encoding="utf-8") as f:
    dash = json.load(f)
with open(os.path.join(source, "docs/observability.md"), encoding="utf-8") as f:
    doc = f.read()
failures = []
if [i["name"] for i in dash.get("__inputs", [])] != ["DS_PROMETHEUS"]:
    failures.append("the dashboard's only input must be DS_PROMETHEUS")
for panel in dash["panels"]:
    if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        failures.append(f"panel {panel['title']!r}: datasource is not ${{DS_PROMETHEUS}}")
    for target in panel["targets"]:
        for name in re.findall(r"\b((?:grpc_server|govreport)_[a-z_]+?)(?:_bucket|_count|_sum)?\{",
                               target["expr"]):
            if f"`{name}`" not in doc:
                failures.append(f"panel {panel['title']!r}: {name} is not in docs/observability.md")
for f in failures:
    print("FAIL:", f)
print(f"{len(dash['panels'])} panels checked")
sys.exit(1 if failures else 0)
