#!/usr/bin/env python3
"""Joins the JSON reports of scripts/bench-compare.sh into one Markdown table.

Usage: bench-table.py RESULTS_DIR. Each figure is shown for agentmail, for
Postfix + Dovecot ("pair") and as the ratio agentmail / pair, with the
issue's target and whether this run met it.
"""
import json
import os
import statistics
import sys


def load(d, name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return f"{v}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "NOT met")


def main(d):
    ap, pp = load(d, "am_plain"), load(d, "pair_plain")
    areq, art = load(d, "am_request"), load(d, "am_roundtrip")
    abig, pbig = load(d, "am_big"), load(d, "pair_big")
    aimap, pimap = load(d, "am_imap"), load(d, "pair_imap")
    rows = []

    def row(name, a, p, target="", ok=None, unit=""):
        rows.append((name, fmt(a, unit), fmt(p, unit), ratio(a, p), target, verdict(ok)))

    g = lambda r, *keys: None if r is None else _dig(r, keys)
    n = g(ap, "senders")
    row(f"plain 2 KiB, {n} senders: accepted msg/s", g(ap, "accepted_per_sec"),
        g(pp, "accepted_per_sec"), "delivered ≥ 1.5 × pair accepted",
        _cmp(g(ap, "delivered_per_sec"), g(pp, "accepted_per_sec"), 1.5))
    row("  delivered msg/s (visible over IMAP)", g(ap, "delivered_per_sec"),
        g(pp, "delivered_per_sec"), "≥ 3 × pair delivered",
        _cmp(g(ap, "delivered_per_sec"), g(pp, "delivered_per_sec"), 3))
    for q in ("p50", "p90", "p99", "max"):
        a, p = g(ap, "final_250", q + "_ms"), g(pp, "final_250", q + "_ms")
        ok = None if q != "p99" or a is None or p is None else a <= p / 2
        row(f"  final 250 {q} ms", a, p, "≤ ½ pair" if q == "p99" else "", ok)
    for q in ("p50", "p99"):
        row(f"  250 → IDLE {q} ms", g(ap, "wake_after_250", q + "_ms"),
            g(pp, "wake_after_250", q + "_ms"))
    row("  errors", _errors(ap), _errors(pp))
    row("  server RSS peak MiB (pair: sum over its processes)",
        _mib(g(ap, "memory", "peak_rss_kib")),
        _mib(g(pp, "memory", "peak_rss_kib")))
    rounds = []
    while True:
        pl = load(d, f"am_plain_round{len(rounds) + 1}")
        pr = load(d, f"am_request_round{len(rounds) + 1}")
        if pl is None or pr is None:
            break
        rounds.append((g(pl, "accepted_per_sec"), g(pr, "accepted_per_sec")))
    if rounds:
        ratios = [p / q for q, p in rounds]
        med = statistics.median(ratios)
        row(f"paid requests/s (reserve + deliver), median of {len(rounds)} rounds",
            statistics.median(p for _, p in rounds), None,
            "≥ 0.8 × own plain", med >= 0.8)
        row("  own plain msg/s in the same rounds, median",
            statistics.median(q for q, _ in rounds), None)
        rows.append(("  paid / plain, each round (median)",
                     ", ".join(f"{x:.2f}" for x in ratios) + f" ({med:.2f})",
                     "-", "-", "", ""))
    elif areq:
        rate, plain = g(areq, "accepted_per_sec"), g(ap, "accepted_per_sec")
        row("paid requests/s (reserve + deliver)", rate, None, "≥ 0.8 × own plain",
            _cmp(rate, plain, 0.8))
    if areq:
        wake = g(areq, "wake_after_250", "p99_ms")
        row("  250 → seller IDLE p99 ms", wake, None, "< 50 ms",
            None if wake is None else wake < 50)
        row("  final 250 p99 ms", g(areq, "final_250", "p99_ms"), None)
    if art:
        row("settlements/s (in a request+response mix)", g(art, "settlements_per_sec"), None)
        row("  all accepted msg/s in that mix", g(art, "accepted_per_sec"), None)
    if abig:
        rise = _mib(g(abig, "memory", "rise_rss_kib"))
        row(f"one {_size(abig)} message: server RSS rise MiB", rise,
            _mib(g(pbig, "memory", "rise_rss_kib")), "< 2 MiB",
            None if rise is None else rise < 2)
        row("  final 250 ms", g(abig, "final_250", "max_ms"), g(pbig, "final_250", "max_ms"))
    imap_rounds = []
    while True:
        a = load(d, f"am_imap_round{len(imap_rounds) + 1}")
        p = load(d, f"pair_imap_round{len(imap_rounds) + 1}")
        if not a or not p:
            break
        imap_rounds.append((a, p))
    if not imap_rounds and aimap and pimap:  # a results directory of older runs
        imap_rounds = [(aimap, pimap)]
    if imap_rounds:
        n = len(imap_rounds)
        for o in imap_rounds[0][0]["ops"]:
            op = o["op"]
            am_ms, pair_ms = [], []
            for a, p in imap_rounds:
                am_ms.append(_op(a, op))
                pair_ms.append(_op(p, op))
            if None in am_ms or None in pair_ms:
                continue
            ratios = [x / y if y else float("inf") for x, y in zip(am_ms, pair_ms)]
            med = statistics.median(ratios)
            what = "median ms" if n == 1 else f"median ms, median of {n} rounds"
            row(f"IMAP {op} ({imap_rounds[0][0]['messages']} msgs), {what}",
                statistics.median(am_ms), statistics.median(pair_ms), "≤ Dovecot", med <= 1)
            if n > 1:
                rows.append(("  agentmail / Dovecot, each round (median)",
                             ", ".join(f"{r:.2f}" for r in ratios) + f" ({med:.2f})",
                             "-", "-", "", ""))

    head = ("figure", "agentmail", "postfix+dovecot", "ratio", "target", "this run")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _op(report, op):
    for o in report["ops"]:
        if o["op"] == op:
            return o["median_ms"]
    return None


def _dig(r, keys):
    for k in keys:
        if not isinstance(r, dict) or k not in r:
            return None
        r = r[k]
    return r


def _cmp(a, b, factor):
    return None if a is None or b is None else a >= factor * b


def _errors(r):
    if r is None:
        return None
    e = r.get("errors_by_code") or {}
    return sum(e.values())


def _mib(k):
    return None if k is None else k / 1024


def _size(r):
    return r["sizes"].split("=")[0]


if __name__ == "__main__":
    main(sys.argv[1])
