"""The table `compare` prints: one row per figure, medians over runs, as ours, reference and
ours/reference. Reads loadgen's JSON lines, each tagged with its side ("ours"/"reference")."""

import json
import statistics
import sys


def servers(report):
    return [p for p in report.get("processes", []) if p.get("label", "").startswith("backend")]


def cpu_us_per_delivery(report, label=None):
    """CPU (user + system) of the server processes (or of `label`) per delivery seen."""
    deliveries = report.get("deliveries_seen") or 0
    if label == "loadgen":
        procs = [report.get("loadgen", {})]
    elif label:
        procs = [p for p in report.get("processes", []) if p.get("label") == label]
    else:
        procs = servers(report)
    seconds = [p.get("cpu_s") for p in procs]
    if not procs or not deliveries or None in seconds:
        return None
    return 1e6 * sum(seconds) / deliveries


def kib_per_connection(report):
    """Server RSS with every connection held, minus before any, per connection held."""
    held = report.get("connections_held") or 0
    deltas = [p.get("rss_held_kib", 0) - p.get("rss_before_kib", 0) for p in servers(report)
              if p.get("rss_held_kib") is not None and p.get("rss_before_kib") is not None]
    return sum(deltas) / held if held and deltas else None


ROWS = [
    ("server CPU per delivery (µs)", cpu_us_per_delivery, "{:.2f}"),
    ("server memory per connection (KiB)", kib_per_connection, "{:.1f}"),
    ("latency p50 (ms)", lambda r: r.get("latency", {}).get("p50_ms"), "{:.2f}"),
    ("latency p99 (ms)", lambda r: r.get("latency", {}).get("p99_ms"), "{:.2f}"),
    ("latency p999 (ms)", lambda r: r.get("latency", {}).get("p999_ms"), "{:.2f}"),
    ("lost", lambda r: r.get("lost"), "{:.0f}"),
    ("deliveries seen", lambda r: r.get("deliveries_seen"), "{:.0f}"),
    ("connections held", lambda r: r.get("connections_held"), "{:.0f}"),
    ("Redis CPU per delivery (µs)", lambda r: cpu_us_per_delivery(r, "redis"), "{:.2f}"),
    ("loadgen CPU per delivery (µs)", lambda r: cpu_us_per_delivery(r, "loadgen"), "{:.2f}"),
    ("machine busy (%)", lambda r: r.get("machine", {}).get("cpu_busy_pct"), "{:.0f}"),
]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(path):
    reports = [json.loads(line) for line in open(path) if line.strip()]
    sides = {s: [r for r in reports if r.get("side") == s] for s in ("ours", "reference")}
    counts = {s: len(rs) for s, rs in sides.items()}
    print(f"== side by side: medians of {counts['ours']} run(s) of ours, "
          f"{counts['reference']} of the reference")
    print(f"| {'figure':<36} | {'ours':>10} | {'reference':>10} | {'ours/ref':>8} |")
    print(f"| {'-' * 36} | {'-' * 9}: | {'-' * 9}: | {'-' * 7}: |")
    for name, figure, fmt in ROWS:
        ours = median(figure(r) for r in sides["ours"])
        ref = median(figure(r) for r in sides["reference"])
        show = lambda v: "–" if v is None else fmt.format(v)
        ratio = f"{ours / ref:.2f}" if ours is not None and ref else "–"
        print(f"| {name:<36} | {show(ours):>10} | {show(ref):>10} | {ratio:>8} |")
    if max(counts.values()) > 1:
        print("each run (ours | reference):")
        for name, figure, fmt in ROWS:
            runs = {s: "; ".join("–" if v is None else fmt.format(v)
                                 for v in (figure(r) for r in rs)) for s, rs in sides.items()}
            print(f"  {name:<36} {runs['ours']} | {runs['reference']}")
    failed = [r.get("side") for r in reports if r.get("lost") or r.get("duplicated")]
    if failed or not all(counts.values()):
        print("compare: a side lost deliveries or did not report", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
