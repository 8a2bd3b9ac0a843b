#!/usr/bin/env python3
"""Checks a rendered report against the reference report (the seed):
no slot is left unfilled, the text outside the slots is the seed's own
wording in the seed's order, and the 成文日期 is in GB/T 9704 form. A
版头 above the title is passed over like any text before the seed's first
words; the 版记 after the form feed is not part of the check.

The seed marks slots with '*'. Besides those, the year of the period
("2022年") and the whole date line ("2023年*月*日") are slots too.
Exit 0 when it holds; otherwise prints the first piece not found.
usage: check_report.py SEED REPORT
"""
import re
import sys


def main():
    seed = open(sys.argv[1], encoding="utf-8").read()
    report = open(sys.argv[2], encoding="utf-8").read()
    # A form feed starts the attachments or the 版记 (docs/documents.md):
    # the signed text ends before the first one.
    report = report.split("\f")[0]
    # The 主送机关 line under the title ("中共重庆市委：") comes from the org's
    # document settings, not from the seed's text.
    report = "\n".join(l for l in report.split("\n")
                        if not re.fullmatch(r"[^，。：]{1,40}：", l.strip()))
    problems = []
    if "*" in report:
        problems.append("a '*' is left in the report")
    lines = seed.split("\n")
    # The date line of the seed, as a whole, is the issue.date slot.
    lines = ["*" if re.fullmatch(r"\d{4}年\*月\*日\s*", l) else l for l in lines]
    seed = "\n".join(lines).replace("2022年", "*年")
    # The narrative sections are the drafter's own text, not the template's.
    start = seed.index("二、存在问题\n") + len("二、存在问题\n")
    end = seed.index("三、下一步打算\n")
    seed = seed[:start] + "*\n" + seed[end:]
    start = seed.index("三、下一步打算\n") + len("三、下一步打算\n")
    end = seed.index("中共*市")
    seed = seed[:start] + "*\n" + seed[end:]
    # Line breaks and spaces are layout (blank lines around the 主送机关, an
    # indent): the wording is compared without them.
    blank = re.compile(r"[\s\u00a0\u3000]+")
    text = blank.sub("", report)
    pos = 0
    for piece in re.split(r"\*+", seed):
        piece = blank.sub("", piece)
        if not piece:
            continue
        at = text.find(piece, pos)
        if at < 0:
            problems.append("not found in order: " + piece[:60])
            break
        pos = at + len(piece)
    tail = [l.strip("\u00a0 ") for l in report.rstrip().split("\n")][-2:]
    if not any(re.fullmatch(r"\d{4}年[1-9]\d?月[1-9]\d?日", l) for l in tail):
        problems.append("no 成文日期 like 2023年5月8日 at the end: %r" % tail)
    if problems:
        for p in problems:
            print("check FAILED:", p)
        sys.exit(1)
    print("check: every slot filled; the seed's wording outside the slots; 成文日期 per GB/T 9704")


if __name__ == "__main__":
    main()
