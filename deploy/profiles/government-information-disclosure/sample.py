#!/usr/bin/env python3
"""A year of records for one org of the government-information-disclosure
profile: requests (新收 and 上年结转, each with its applicant type, outcome and
channel), normative documents, the year-end registers, decision statistics,
procurement and the review/litigation cases. Deterministic: the same year
gives the same file on every machine (its own generator, not `random`).

    python3 sample.py 2023 > sample-2023.jsonl
    reportctl activity import ORG sample-2023.jsonl
"""
import json
import sys

APPLICANTS = [("自然人", 70), ("商业企业", 14), ("科研机构", 3), ("社会公益组织", 2),
              ("法律服务机构", 8), ("其他", 3)]
OUTCOMES = [("予以公开", 46), ("部分公开", 9), ("属于国家秘密", 1), ("其他法律行政法规禁止公开", 1),
            ("危及“三安全一稳定”", 1), ("保护第三方合法权益", 3), ("属于三类内部事务信息", 2),
            ("属于四类过程性信息", 3), ("属于行政执法案卷", 1), ("属于行政查询事项", 2),
            ("本机关不掌握相关政府信息", 12), ("没有现成信息需要另行制作", 3),
            ("补正后申请内容仍不明确", 2), ("信访举报投诉类申请", 4), ("重复申请", 3),
            ("要求提供公开出版物", 1), ("无正当理由大量反复申请", 1),
            ("要求行政机关确认或重新出具已获取信息", 1), ("其他处理", 4)]
CHANNELS = [("网上申请", 62), ("当面申请", 14), ("信函申请", 20), ("传真申请", 1), ("其他", 3)]


class Mix:
    """SplitMix64: the same numbers wherever it runs."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def range(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)

    def weighted(self, choices):
        total = sum(w for _, w in choices)
        pick = self.next() % total
        for value, weight in choices:
            if pick < weight:
                return value
            pick -= weight
        return choices[-1][0]


def day(year, rng, months=(1, 12)):
    month = rng.range(*months)
    return f"{year}-{month:02d}-{rng.range(1, 28):02d}"


def record(kind, date, title, ext, dimensions=None, quantities=None, department="政务公开科"):
    out = {"type": kind, "occurredOn": date, "title": title, "department": department,
           "sourceSystem": "sample", "externalId": ext}
    if dimensions:
        out["dimensions"] = dimensions
    if quantities:
        out["quantities"] = {k: str(v) for k, v in quantities.items()}
    return out


def main():
    year = int(sys.argv[1]) if len(sys.argv) > 1 else 2023
    rng = Mix(year)
    rows = []
    # Carried over from last year, answered in the first weeks.
    for i in range(6):
        rows.append(record("disclosure_request", f"{year}-01-{3 + i:02d}", "上年结转申请办理",
                           f"req-{year - 1}-c{i + 1}",
                           {"applicant_type": rng.weighted(APPLICANTS), "intake": "上年结转",
                            "outcome": rng.weighted(OUTCOMES), "channel": rng.weighted(CHANNELS)}))
    # Received this year; those of the last weeks are still open at year end.
    for i in range(128):
        date = day(year, rng)
        open_at_year_end = date >= f"{year}-12-20"
        rows.append(record("disclosure_request", date, "政府信息公开申请", f"req-{year}-{i + 1:04d}",
                           {"applicant_type": rng.weighted(APPLICANTS), "intake": "本年新收",
                            "outcome": "结转下年度继续办理" if open_at_year_end
                            else rng.weighted(OUTCOMES),
                            "channel": rng.weighted(CHANNELS)}))
    for kind, made, published in [("规章", 2, 2), ("规范性文件", 9, 8)]:
        for event, n in [("新制作", made), ("新公开", published)]:
            for i in range(n):
                rows.append(record("normative_document", day(year, rng), f"{kind}（{event}）",
                                   f"doc-{year}-{kind}-{event}-{i + 1}",
                                   {"doc_kind": kind, "event": event}, department="法规科"))
    rows.append(record("public_stock", f"{year}-12-31", "对外公开规章和规范性文件总数量",
                       f"stock-{year}", quantities={"rules_total": 37, "normative_total": 156}))
    for kind, prev, added, removed in [("行政许可", 58, 3, 2), ("其他对外管理服务事项", 41, 5, 0),
                                       ("行政处罚", 212, 6, 11), ("行政强制", 17, 0, 1),
                                       ("行政事业性收费", 4, 0, 1)]:
        rows.append(record("item_catalogue", f"{year}-12-31", f"{kind}事项目录年度变动",
                           f"items-{year}-{kind}", {"item_kind": kind},
                           {"items_prev": prev, "items_added": added, "items_removed": removed}))
    for month in range(1, 13):
        for kind, lo, hi in [("行政许可", 20, 60), ("其他对外管理服务事项", 5, 25),
                             ("行政处罚", 2, 15), ("行政强制", 0, 3)]:
            rows.append(record("decision_statistics", f"{year}-{month:02d}-28",
                               f"{month}月{kind}处理决定", f"decisions-{year}-{month:02d}-{kind}",
                               {"decision_kind": kind}, {"decisions": rng.range(lo, hi)},
                               department="行政审批科"))
    for i in range(7):
        rows.append(record("central_procurement", day(year, rng), "政府集中采购项目",
                           f"procurement-{year}-{i + 1}",
                           quantities={"amount_fen": rng.range(50, 900) * 100000},
                           department="财务科"))
    for i, (proceeding, result) in enumerate([("行政复议", "结果维持"), ("行政复议", "结果维持"),
                                              ("行政复议", "结果纠正"), ("未经复议直接起诉", "尚未审结"),
                                              ("复议后起诉", "结果维持")]):
        rows.append(record("disclosure_case", day(year, rng, (3, 11)), f"政府信息公开{proceeding}案件",
                           f"case-{year}-{i + 1}", {"proceeding": proceeding, "result": result},
                           department="法规科"))
    for r in rows:
        print(json.dumps(r, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
