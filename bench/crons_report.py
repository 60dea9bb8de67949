"""The cron benchmark's figures (delays, runs per cron) and its markdown report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runs_scenarios import percentile

HEADS = {
    "memory": "In memory, 1 server",
    "postgres": "PostgreSQL, 1 server",
    "postgres-3": "PostgreSQL, 3 servers",
}


def aggregate_burst(
    runs: list[dict[str, Any]], cron_ids: set[str], due: datetime
) -> dict[str, Any]:
    """Delay from the due second to each run's `created_at`, and runs per cron (every
    cron counted, those without a run too)."""
    delays = [(r["created_at"] - due).total_seconds() * 1000 for r in runs]
    per_cron = Counter({cron_id: 0 for cron_id in cron_ids})
    per_cron.update(r["cron_id"] for r in runs)
    duplicates = [
        {
            "cron_id": cron_id,
            "runs": sorted(
                (str(r["created_at"]), r["status"]) for r in runs if r["cron_id"] == cron_id
            ),
        }
        for cron_id, n in per_cron.items()
        if n > 1
    ]

    def ms(pct: float) -> float | None:
        value = percentile(delays, pct)
        return None if value is None else round(value, 1)

    return {
        "crons": len(cron_ids),
        "runs": len(runs),
        "delay_ms": {
            "min": round(min(delays), 1) if delays else None,
            **{f"p{p}": ms(p) for p in (50, 90, 99)},
            "max": round(max(delays), 1) if delays else None,
        },
        "runs_per_cron": {
            "min": min(per_cron.values(), default=0),
            "max": max(per_cron.values(), default=0),
            "crons_without_run": sum(n == 0 for n in per_cron.values()),
            "crons_with_several": len(duplicates),
        },
        "statuses": dict(Counter(r["status"] for r in runs)),
        "duplicates": duplicates,
        "delays_ms": sorted(round(d, 1) for d in delays),
    }


def render(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    keys = [k for k in HEADS if k in results]
    plan = meta["plan"]

    def row(title: str, fmt: Callable[[dict[str, Any]], str]) -> str:
        cells = []
        for key in keys:
            try:
                cells.append(fmt(results[key]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        return "| " + " | ".join([title, *cells]) + " |"

    def pg(value: float | None, unit: str = "%") -> str:
        return "" if value is None else f" + {value:.2f}{unit} PG"

    def cpu(window: str) -> Callable[[dict[str, Any]], str]:
        def fmt(r: dict[str, Any]) -> str:
            w = r["idle"][window]
            return f"{w['server_cpu_pct_total']:.2f}%{pg(w['postgres_cpu_pct'])}"

        return fmt

    def idle_cost(r: dict[str, Any]) -> str:
        a, b = r["idle"]["no_crons"], r["idle"]["idle_crons"]
        text = f"{b['server_cpu_pct_total'] - a['server_cpu_pct_total']:+.2f}%"
        if a["postgres_cpu_pct"] is not None:
            text += f" {b['postgres_cpu_pct'] - a['postgres_cpu_pct']:+.2f}% PG"
        return text

    def delays(r: dict[str, Any]) -> str:
        d = r["burst"]["delay_ms"]
        return f"{d['p50']:.0f} / {d['p99']:.0f} / {d['max']:.0f}"

    def per_cron(r: dict[str, Any]) -> str:
        b = r["burst"]["runs_per_cron"]
        return f"{b['min']} / {b['max']}" + ("" if b["min"] == b["max"] == 1 else " **(!)**")

    def burst_cpu(r: dict[str, Any]) -> str:
        b = r["burst"]
        per_tick = 1000 * b["server_cpu_s"] / b["crons"]
        text = f"{per_tick:.1f}"
        if b["postgres_cpu_s"] is not None:
            text += f" + {1000 * b['postgres_cpu_s'] / b['crons']:.1f} PG"
        return text

    def foreign(r: dict[str, Any]) -> str:
        values = [
            r["idle"]["no_crons"]["foreign_cpu_pct"],
            r["idle"]["idle_crons"]["foreign_cpu_pct"],
            r["burst"]["foreign_cpu_pct"],
        ]
        return f"{max(values):.0f}%"

    n_burst, n_idle, window = plan["burst"], plan["idle"], plan["cpu_seconds"]
    lines = [
        "# Cron benchmark",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu']}), Linux {meta['kernel']}",
        f"- Python {meta['python']}, Robyn {meta['robyn']}, PostgreSQL {meta['postgres'] or '-'}",
        f"- Pinning: {meta['pinning']}; with 3 servers, all three share CPU 1",
        f"- Command: `{meta['command']}` ({meta['mode']}, {meta['total_seconds']:.0f} s in all; "
        f"waited {meta['quiet_wait']['waited_s']:.0f} s for other processes to go idle, "
        f"gave up {meta['quiet_wait']['gave_up']} times)",
        "",
        f"Each setup starts fresh (a new database on PostgreSQL) and runs, in order: the "
        f"servers' CPU over {window:.0f} s with no cron; {n_idle:,} crons created through "
        f"the API (`POST /runs/crons`, {16} at a time, spread over the servers), whose "
        "one run is months away; after a `VACUUM ANALYZE` (PostgreSQL) and once the "
        f"servers are idle, their CPU over {window:.0f} s again; then the burst: "
        f"{n_burst:,} more crons, all due at the same second T, which lies a few seconds "
        "after their creation ends. Their schedule names T to the second (croniter's sixth "
        "field is the second: `M H D Mo * S`), so each fires once at T and next a year "
        "later; the idle crons stay in place. The graph is `trivial` (bench/graphs/), "
        'every cron stateless with `on_run_completed: "keep"` so that its runs stay '
        "countable. Runs are read, once every run has finished and 3 s later, from the "
        "database on PostgreSQL (`runs.kwargs -> config -> configurable -> cron_id`) and "
        "through the API in memory (`POST /threads/search` on the burst's metadata, whose "
        "threads carry `cron_id`, then `GET /threads/{id}/runs`). Delay = the run's "
        "`created_at` (the database's clock on PostgreSQL, stamped in the transaction that "
        "claims the tick; the server's in memory, same machine) minus T.",
        "",
        "CPU is % of one core: the server processes (supervisor and forked child, all "
        "threads, summed over the servers), + PG: the PostgreSQL backends serving the "
        "setup's database. The scheduler sleeps until the earliest `next_run_date`, at "
        "most `CRON_SCHEDULER_MAX_SLEEP_SECONDS` (default 30 s, kept), so an idle window "
        "holds about one scheduler pass per server. Resolution: one clock tick (10 ms) "
        f"per window, {100 / 100 / window:.2f}% over {window:.0f} s.",
        "",
        "| Scenario | " + " | ".join(HEADS[k] for k in keys) + " |",
        "|---" * (len(keys) + 1) + "|",
        row(
            f"{n_burst:,} crons due at T: created in s (s to spare before T)",
            lambda r: f"{r['burst']['create_seconds']:.1f} ({r['burst']['spare_s']:.1f})",
        ),
        row("Delay T → run created, p50 / p99 / max, ms", delays),
        row("Delay of the first run, ms", lambda r: f"{r['burst']['delay_ms']['min']:.0f}"),
        row(
            "Ticks per second (crons / max delay)",
            lambda r: f"{r['burst']['crons'] / r['burst']['delay_ms']['max'] * 1000:.0f}",
        ),
        row("Runs per cron, min / max (must be 1 / 1)", per_cron),
        row(
            "Runs finished: success / all",
            lambda r: f"{r['burst']['statuses'].get('success', 0)} / {r['burst']['runs']}",
        ),
        row(
            "Crons whose next run did not move past T",
            lambda r: str(r["burst"]["crons_not_advanced"]),
        ),
        row(
            "Burst: PostgreSQL transactions committed / rolled back (a claim lost to "
            "another server rolls back)",
            lambda r: f"{r['burst']['pg_commits']:,} / {r['burst']['pg_rollbacks']:,}",
        ),
        row("Burst CPU per tick (run created and executed), ms", burst_cpu),
        row(
            f"{n_idle:,} idle crons: created per second (API)",
            lambda r: f"{r['idle']['create_per_second']:.0f}",
        ),
        row("CPU with 0 crons", cpu("no_crons")),
        row(f"CPU with {n_idle:,} idle crons", cpu("idle_crons")),
        row("Idle scheduler's cost (difference)", idle_cost),
        row("Other processes' CPU, worst measurement", foreign),
        "",
    ]
    bad = [k for k in keys if results[k]["burst"]["runs_per_cron"]["crons_with_several"]]
    for key in bad:
        dup = results[key]["burst"]["duplicates"]
        lines.append(f"- **{HEADS[key]}: {len(dup)} crons with several runs**, e.g. {dup[:3]}")
    lines += [f"- {note}" for note in meta["notes"]]
    lines.append(
        "- The delay's tail is the burst's throughput: each server executes the runs it "
        "creates, on the same CPU, while creating the next ones. A kept run's checkpoints "
        "go to the database (a temporary run's stay in memory), so a tick costs more CPU "
        "than the temporary runs of bench/runs.py. With 3 servers pinned to one CPU there "
        "is no more CPU than with one: that column shows what sharing one database's "
        "crons costs, not how far several machines scale."
    )
    noisy = [
        f"{HEADS[k]} {name} ({value:.0f}%)"
        for k in keys
        for name, value in (
            ("0 crons", results[k]["idle"]["no_crons"]["foreign_cpu_pct"]),
            ("idle crons", results[k]["idle"]["idle_crons"]["foreign_cpu_pct"]),
            ("burst", results[k]["burst"]["foreign_cpu_pct"]),
        )
        if value >= 10
    ]
    if noisy:
        lines.append(
            "- Other processes used ≥ 10% of a core during: " + ", ".join(noisy) + ". The "
            "burst's delays and CPU are pessimistic there (PostgreSQL is shared with them); "
            "rerun on a quiet machine for firm figures."
        )
    per_server = [
        f"{HEADS[k]}: "
        + ", ".join(f"{v:.2f}%" for v in results[k]["idle"]["idle_crons"]["server_cpu_pct"])
        for k in keys
        if results[k]["servers"] > 1
    ]
    if per_server:
        lines.append(f"- CPU of each server with the idle crons: {'; '.join(per_server)}.")
    lines += [
        "",
        "## Rerun",
        "",
        "```bash",
        "uv run python bench/crons.py            # about 8 minutes",
        "uv run python bench/crons.py --quick    # 200 due, 1,000 idle: crons-quick.md",
        "```",
        "",
        "Options: `--setups memory,postgres,postgres-3` (any subset), `--db-prefix P` "
        "(throwaway databases `P<hex>`, dropped at the end), `--no-pin`, `--quiet-wait S`. "
        "Servers are started as `python -m robyn_server --config bench/graphs/langgraph.json "
        "--port N --log-level WARNING` with the default settings. The .json next to this "
        "file has every figure, the delays of every run and the details of any cron with "
        "more than one run.",
        "",
    ]
    return "\n".join(lines)
