"""The benchmark report: reference figures, goals, and the markdown table."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

from servers import Pinning, pg_version, wrk_version

OK_CONNECTIONS = 64
CG_CONCURRENCY = 32
SEED_CONCURRENCY = 32

REFERENCE = {
    "create_get_rps": 514.0,
    "thread_search_p50_1k_ms": 2.4,
    "thread_search_p50_10k_ms": 13.8,
}
GOALS = {
    "ok_pct_of_bare": 80.0,
    "create_get_rps": 3 * REFERENCE["create_get_rps"],
    "thread_search_growth": 1.5,
}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def machine_info(pin: Pinning) -> dict[str, Any]:
    from importlib.metadata import version

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "robyn": version("robyn"),
        "postgres": pg_version(),
        "wrk": wrk_version(),
        "pinning": pin.describe(),
    }


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_lat(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    err = f" ⚠ {r['errors']} errors" if r.get("errors") else ""
    return f"{fmt_ms(r['p50_ms'])} / {fmt_ms(r['p99_ms'])}{err}"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else (" ✅" if ok else " ❌")


def render(meta: dict[str, Any], results: list[dict]) -> str:
    by = {r["backend"]: r for r in results}
    backends = [b for b in ("memory", "postgres") if b in by]
    heads = {"memory": "In memory", "postgres": "PostgreSQL"}

    def cell(backend: str, fn: Any) -> str:
        try:
            return fn(by[backend])
        except (KeyError, TypeError):
            return "-"

    def row(title: str, goal: str, fn: Any) -> str:
        return "| " + " | ".join([title, *(cell(b, fn) for b in backends), goal]) + " |"

    def ok_cell(r: dict) -> str:
        ok, pct = r["ok"], r["ok"]["pct_of_bare"]
        return (
            f"{ok['rps']:,.0f} = {pct:.0f}% of {ok['bare']['rps']:,.0f}"
            f"{verdict(pct >= GOALS['ok_pct_of_bare'])}"
        )

    def foreign(r: dict) -> list[tuple[float, str]]:
        found = [(r["ok"]["foreign_cpu_pct"], "/ok"), (r["create_get"]["foreign_cpu_pct"], "c+g")]
        found += [(v["foreign_cpu_pct"], f"a.search {k}") for k, v in r["assistant_search"].items()]
        for key, tag in (("thread_search", ""), ("thread_search_fresh", " fresh")):
            found += [
                (v["foreign_cpu_pct"], f"t.search {label}@{size}{tag}")
                for size, group in (r.get(key) or {}).items()
                for label, v in group.items()
            ]
        return found

    def foreign_cell(r: dict) -> str:
        worst = max(foreign(r))
        return f"{worst[0]:.0f}% ({worst[1]})"

    def cg_cell(r: dict) -> str:
        rps = r["create_get"]["rps"]
        err = f" ⚠ {r['create_get']['errors']} errors" if r["create_get"]["errors"] else ""
        times = rps / REFERENCE["create_get_rps"]
        return f"{rps:,.0f} ({times:.1f}x){verdict(rps >= GOALS['create_get_rps'])}{err}"

    def growth_cell(label: str) -> Any:
        def fn(r: dict) -> str:
            g = r["thread_search_growth"][label]
            ok = g < GOALS["thread_search_growth"] if r["backend"] == "postgres" else None
            return f"{g:.2f}x{verdict(ok)}" if g is not None else "-"

        return fn

    def fresh_cell(label: str) -> Any:
        def fn(r: dict) -> str:
            fresh = r["thread_search_fresh"]
            if not fresh:
                return "n/a"
            a, b = fresh["1k"][label]["p50_ms"], fresh["10k"][label]["p50_ms"]
            return f"{fmt_ms(a)} -> {fmt_ms(b)} ({r['thread_search_fresh_growth'][label]:.2f}x)"

        return fn

    ts = "thread_search"
    lines = [
        "# Foundation benchmark",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu']}), Linux {meta['kernel']}",
        f"- Python {meta['python']}, Robyn {meta['robyn']}, PostgreSQL {meta['postgres'] or '-'}",
        f"- Pinning: {meta['pinning']}",
        f"- Load: GET /ok with {meta['ok_client']}; everything else with the asyncio "
        "client in bench/loadgen.py (keep-alive HTTP/1.1)",
        f"- Mode: {meta['mode']}, {meta['total_seconds']:.0f} s in all; before each "
        f"measurement waited up to {meta['quiet_wait']['max_per_measurement_s']:.0f} s for "
        f"other processes to go idle, {meta['quiet_wait']['budget_s']:.0f} s in all (waited "
        f"{meta['quiet_wait']['waited_s']:.0f} s, gave up {meta['quiet_wait']['gave_up']} "
        "times)",
        "",
        "Latencies are p50 / p99 in milliseconds, measured sequentially on one keep-alive "
        "connection. Throughputs are requests per second. On Postgres the search figures "
        "are taken after a VACUUM ANALYZE (the state autovacuum reaches on its own within "
        "about a minute); the two 'just after seeding' rows are taken before it, while "
        "the new rows still sit in the GIN index's pending list and the planner has no "
        "statistics, and vary with autovacuum's timing.",
        "",
        "| Scenario | " + " | ".join(heads[b] for b in backends) + " | Goal |",
        "|---|" + "---|" * len(backends) + "---|",
        row("GET /ok req/s = % of bare Robyn req/s", "≥ 80% of bare", ok_cell),
        row(
            "GET /ok p50 / p99 (64 connections)",
            "",
            lambda r: f"{fmt_ms(r['ok']['p50_ms'])} / {fmt_ms(r['ok']['p99_ms'])}",
        ),
        row(
            f"Thread create + get req/s, {CG_CONCURRENCY} users (x reference 514)",
            f"≥ {GOALS['create_get_rps']:.0f}",
            cg_cell,
        ),
        row(
            "Thread create + get p50 / p99 per request",
            "",
            lambda r: fmt_lat(r["create_get"]),
        ),
        row(
            'Assistant search `{"limit":10}`, 1k assistants',
            "",
            lambda r: fmt_lat(r["assistant_search"]["limit"]),
        ),
        row(
            "Assistant search, metadata filter (2%), 1k assistants",
            "",
            lambda r: fmt_lat(r["assistant_search"]["metadata"]),
        ),
        row(
            'Thread search `{"limit":10}`, 1k threads',
            f"ref. p50 {REFERENCE['thread_search_p50_1k_ms']}",
            lambda r: fmt_lat(r[ts]["1k"]["limit"]),
        ),
        row(
            'Thread search `{"limit":10}`, 10k threads',
            f"ref. p50 {REFERENCE['thread_search_p50_10k_ms']}",
            lambda r: fmt_lat(r[ts]["10k"]["limit"]),
        ),
        row(
            "Thread search growth 10k/1k (p50)",
            "< 1.5x (Postgres)",
            growth_cell("limit"),
        ),
        row(
            "Thread search, metadata filter (1%), 1k threads",
            "",
            lambda r: fmt_lat(r[ts]["1k"]["metadata"]),
        ),
        row(
            "Thread search, metadata filter (1%), 10k threads",
            "",
            lambda r: fmt_lat(r[ts]["10k"]["metadata"]),
        ),
        row(
            "Thread search growth 10k/1k, metadata filter (p50)",
            "< 1.5x (Postgres)",
            growth_cell("metadata"),
        ),
        row(
            'Postgres just after seeding: thread search `{"limit":10}` p50 1k -> 10k',
            "see note",
            fresh_cell("limit"),
        ),
        row(
            "Postgres just after seeding: thread search, metadata filter, p50 1k -> 10k",
            "see note",
            fresh_cell("metadata"),
        ),
        row(
            "Seeding via HTTP (32 connections): 1k assistants / 9k threads, s",
            "",
            lambda r: f"{r['assistants_seed_s']:.1f} / {r['threads_seed_s']['10k']:.1f}",
        ),
        row(
            "CPU during create + get: server / load generator / Postgres backends",
            "",
            lambda r: " / ".join(
                "-" if v is None else f"{v:.0f}%"
                for v in (
                    r["create_get"]["server_cpu_pct"],
                    r["create_get"]["client_cpu_pct"],
                    r["create_get"]["postgres_cpu_pct"],
                )
            ),
        ),
        row("Other processes' CPU, worst measurement (% of one core)", "≈ 0", foreign_cell),
    ]
    notes = list(meta.get("notes") or [])
    busy = [
        (pct, f"{r['backend']} {what}") for r in results for pct, what in foreign(r) if pct >= 10
    ]
    if busy:
        notes.append(
            "Other processes used ≥ 10% of a core during: "
            + ", ".join(f"{what} ({pct:.0f}%)" for pct, what in busy)
            + ". Those figures are pessimistic; rerun on a quiet machine."
        )
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
