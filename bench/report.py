"""Medians over rounds, the tables, and the targets with their figures."""

from __future__ import annotations

import statistics
from typing import Any

from bench.levels import relay_kept_up


def median_rows(rounds: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Each row of ``key`` with every number the median of the rounds' figures."""
    rows = []
    for index, first in enumerate(rounds[0][key]):
        row = dict(first)
        for column, value in first.items():
            if isinstance(value, int | float) and column != "concurrency":
                samples = [
                    r[key][index][column] for r in rounds if r[key][index][column] is not None
                ]
                row[column] = round(statistics.median(samples), 2) if samples else None
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join("" if row[c] is None else str(row[c]) for c in columns) + " |")


def print_targets(targets: dict[str, bool]) -> None:
    print("\ntargets:")
    for text, holds in targets.items():
        print(f"  [{'x' if holds else ' '}] {text}")


def report(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Print the medians of the rounds and every target with its figure."""
    rows = median_rows(rounds, "levels")
    tokens = median_rows(rounds, "tokens")
    print(f"\nmedians of {len(rounds)} run(s)\n")
    cpu = ["level", "concurrency", "cores busy", "cpu µs/create"]
    cpu += [column for column in rows[0] if column.startswith("µs ")]
    print_table(rows, [column for column in rows[0] if column not in cpu[2:]])
    print(
        "\nCPU per create, by part of the machine (service: every process of serve;"
        " client: wrk, or the baseline script itself; observer: this script)\n"
    )
    print_table(rows, cpu)
    print("\ntoken endpoint, on the same service\n")
    print_table(tokens, list(tokens[0]))

    def best_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return max(rows, key=lambda r: r["creates/s"])

    service = [r for r in rows if r["level"] == "serve"]
    fastest = best_of(service)
    best = best_of(
        [r for r in service if relay_kept_up(r["backlog growth/s"], r["creates/s"])] or service
    )
    baseline = best_of([r for r in rows if r["level"] == "baseline"])
    half = next(r for r in rows if r["level"].endswith("@ half peak"))
    ratio = best["creates/s"] / baseline["creates/s"]
    rss = {name: max(r["rss_mb"].get(name, 0.0) for r in rounds) for name in rounds[0]["rss_mb"]}
    peak_rss = max(rss.values())
    creates = best["creates/s"]

    def peak_of(operation: str) -> float:
        return max(r["per second"] for r in tokens if r["operation"] == operation)

    def half_p99(operation: str) -> float:
        return next(r["p99 ms"] for r in tokens if r["operation"] == f"{operation} @ half peak")

    processes = rounds[0]["processes"]
    lag = half["lag p99 ms"] if half["lag p99 ms"] is not None else float("inf")
    targets = {
        f"serve, as run by default, is {processes} processes (supervisor, API workers, relay)": (
            processes > 2
        ),
        f"creates/s at the best sustained level >= 2.5x the baseline's best (ratio {ratio:.2f}:"
        f" {creates} vs {baseline['creates/s']})": ratio >= 2.5,
        f"p99 <= 25 ms at half of the peak ({half['p99 ms']} ms)": half["p99 ms"] <= 25,
        f"event lag p99 <= 25 ms at half of the peak ({half['lag p99 ms']} ms)": lag <= 25,
        f"service CPU per create <= 250 µs at the peak ({best['µs service']} µs)": (
            best["µs service"] or 1e9
        )
        <= 250,
        f"the outbox does not grow without bound at the peak (growth"
        f" {best['backlog growth/s']}/s at {creates} creates/s)": relay_kept_up(
            best["backlog growth/s"], creates
        ),
        f"peak RSS <= 100 MB per process ({peak_rss:.1f} MB)": peak_rss <= 100,
        f"refresh grants/s >= creates/s ({peak_of('refresh grant')} vs {creates})": (
            peak_of("refresh grant") >= creates
        ),
        f"introspections/s >= 2x creates/s ({peak_of('introspection')} vs {creates})": (
            peak_of("introspection") >= 2 * creates
        ),
        **{
            f"p99 <= 25 ms at half of the {operation} peak ({half_p99(operation)} ms)": (
                half_p99(operation) <= 25
            )
            for operation in ("refresh grant", "introspection")
        },
    }
    print(
        f"\nservice/baseline ratio (best vs best): {ratio:.2f}"
        f" (serve at {best['concurrency']} vs baseline at {baseline['concurrency']})"
    )
    if fastest is not best:
        print(
            f"faster but not sustained: serve at {fastest['concurrency']},"
            f" {fastest['creates/s']} creates/s while the outbox grew by"
            f" {fastest['backlog growth/s']} events/s"
        )
    print(
        "peak RSS per process of serve (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in rss.items())
    )
    plain, openid = peak_of("refresh grant"), peak_of("refresh grant openid")
    print(
        f"refresh grants/s with an ID token signed per refresh (openid): {openid}"
        f" vs {plain} plain ({openid / plain:.0%}), beside {creates} creates/s"
    )
    print_targets(targets)
    return {"rows": rows, "tokens": tokens, "rss_mb": rss, "ratio": ratio, "targets": targets}
