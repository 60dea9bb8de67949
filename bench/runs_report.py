"""The run benchmark's figures per server (pooled over rounds) and its markdown table."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from runs_scenarios import STREAM_MODES, percentile

HEADS = {"memory": "Ours, in memory", "postgres": "Ours, PostgreSQL", "reference": "Reference"}
# The reference's figures as quoted in the issue, to check that this machine reproduces them.
ISSUE_REFERENCE = {
    "wait_rps": 8.0,
    "wait_p50_ms": 989.0,
    "wait_cpu_ms": 8.3,
    "stream_first_event_p50_ms": 941.0,
    "burst_wall_s": 42.0,
    "burst_first_event_p50_s": 19.0,
}


def ms(values: list[float], pct: float) -> float | None:
    value = percentile(values, pct)
    return None if value is None else round(value * 1000, 2)


def cpu_ms_per_run(rounds: list[dict[str, Any]], key: str, runs: int) -> float | None:
    if not runs or any(r[key] is None for r in rounds):
        return None
    return round(1000 * sum(r[key] for r in rounds) / runs, 2)


def pooled(rounds: list[dict[str, Any]], key: str) -> list[float]:
    return [x for r in rounds for x in r[key]]


def aggregate(raw: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    wait = raw["wait"]
    if wait:
        runs = sum(r["runs"] for r in wait)
        lat = pooled(wait, "latencies_s")
        out["wait"] = {
            "runs": runs,
            "errors": sum(r["errors"] for r in wait),
            "first_error": next((r["first_error"] for r in wait if r["first_error"]), None),
            "rps": round(runs / sum(r["seconds"] for r in wait), 2),
            "rps_rounds": [round(r["runs"] / r["seconds"], 2) for r in wait],
            **{f"p{p}_ms": ms(lat, p) for p in (50, 90, 99, 100)},
            "cpu_ms_per_run": cpu_ms_per_run(wait, "server_cpu_s", runs),
            "pg_cpu_ms_per_run": cpu_ms_per_run(wait, "postgres_cpu_s", runs),
            "client_cpu_pct": max(r["client_cpu_pct"] for r in wait),
            "foreign_cpu_pct": max(r["foreign_cpu_pct"] for r in wait),
        }
    for scenario in ("stream", "burst"):
        rounds = raw[scenario]
        if not rounds:
            continue
        streams = sum(r["streams"] for r in rounds)
        entry: dict[str, Any] = {
            "streams": streams,
            "errors": sum(r["errors"] for r in rounds),
            "first_error": next((r["first_error"] for r in rounds if r["first_error"]), None),
            "cpu_ms_per_run": cpu_ms_per_run(rounds, "server_cpu_s", streams),
            "pg_cpu_ms_per_run": cpu_ms_per_run(rounds, "postgres_cpu_s", streams),
            "client_cpu_pct": max(r["client_cpu_pct"] for r in rounds),
            "foreign_cpu_pct": max(r["foreign_cpu_pct"] for r in rounds),
        }
        for key in ("head", "first_event", "first_mode_event", "last_event"):
            values = pooled(rounds, key + "_s")
            entry[key] = {f"p{p}_ms": ms(values, p) for p in (50, 90, 99, 100)}
        if scenario == "burst":
            entry["completed"] = sum(r["completed"] for r in rounds)
            entry["wall_s_rounds"] = [round(r["seconds"], 2) for r in rounds]
            entry["wall_s"] = round(statistics.median(entry["wall_s_rounds"]), 2)
        out[scenario] = entry
    return out


def times(ours: float | None, ref: float | None) -> str:
    if not ours or not ref:
        return ""
    value = ours / ref
    return f" ({value:.2g}x)" if value < 10 else f" ({value:.0f}x)"


def render(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    keys = [k for k in HEADS if k in results]
    ref = results.get("reference")
    plan = meta["plan"]

    def get(result: dict[str, Any] | None, path: str) -> Any:
        node: Any = result
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def row(title: str, fmt: Callable[[dict[str, Any]], str], ratio_of: str | None) -> str:
        cells = []
        for key in keys:
            try:
                text = fmt(results[key])
            except (KeyError, TypeError):
                text = "-"
            if ratio_of and key != "reference" and text != "-":
                text += times(get(results[key], ratio_of), get(ref, ratio_of))
            cells.append(text)
        return "| " + " | ".join([title, *cells]) + " |"

    def lat(scenario: str, key: str, unit: str = "ms") -> Callable[[dict[str, Any]], str]:
        def fmt(r: dict[str, Any]) -> str:
            node = r[scenario][key] if key else r[scenario]
            a, b = node["p50_ms"], node["p99_ms" if scenario != "burst" else "p100_ms"]
            if unit == "s":
                return f"{a / 1000:.2f} / {b / 1000:.2f}"
            return f"{a:.1f} / {b:.1f}"

        return fmt

    def cpu(scenario: str) -> Callable[[dict[str, Any]], str]:
        def fmt(r: dict[str, Any]) -> str:
            node = r[scenario]
            pg = node["pg_cpu_ms_per_run"]
            return f"{node['cpu_ms_per_run']:.2f}" + (f" + {pg:.2f} PG" if pg is not None else "")

        return fmt

    def errors(r: dict[str, Any]) -> str:
        parts = [f"{s} {r[s]['errors']}" for s in ("wait", "stream", "burst") if r.get(s)]
        return ", ".join(parts)

    def busiest(field: str) -> Callable[[dict[str, Any]], str]:
        def fmt(r: dict[str, Any]) -> str:
            worst = max((r[s][field], s) for s in ("wait", "stream", "burst") if r.get(s))
            return f"{worst[0]:.0f}% ({worst[1]})"

        return fmt

    n = plan["burst_streams"]
    modes = ", ".join(f'"{m}"' for m in STREAM_MODES)
    lines = [
        "# Run benchmark",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu']}), Linux {meta['kernel']}",
        f"- Python {meta['python']}, Robyn {meta['robyn']}, PostgreSQL {meta['postgres'] or '-'}",
        f"- Reference: langgraph-api {meta['reference_version'] or '-'} (`langgraph dev "
        f"--no-reload --n-jobs-per-worker {meta['reference_jobs']} --server-log-level "
        f"{meta['reference_log_level']}`, in-memory runtime); ours with `--log-level WARNING`",
        f"- Pinning: {meta['pinning']}; each server alone on its CPU while measured (the "
        "others idle)",
        f"- Command: `{meta['command']}` ({meta['mode']}, {meta['total_seconds']:.0f} s in "
        f"all; waited {meta['quiet_wait']['waited_s']:.0f} s for other processes to go idle, "
        f"gave up {meta['quiet_wait']['gave_up']} times)",
        f"- Rounds: {plan['rounds']} of runs/wait ({plan['wait_seconds']:.0f} s each) and "
        f"of runs/stream ({plan['stream_count']} streams each), {plan['burst_rounds']} of "
        f"the burst; the servers take turns within each round, in a rotating order. "
        "Figures pool all rounds.",
        "",
        "Graphs: bench/graphs/ (`trivial`: one node, GenericFakeChatModel answering "
        '"hello there friend"; `sleepy`: one node, `await asyncio.sleep(2)`), the same '
        "files for every server. All runs are stateless (`POST /runs/wait`, `POST "
        '/runs/stream`, `{"assistant_id": ..., "input": {"messages": [...]}}`). '
        f"Streams ask for `stream_mode: [{modes}]`. The client is httpx (async). Times are "
        "from sending the request. Latencies are p50 / p99 in ms unless marked s. "
        "In brackets: ours divided by the reference (throughput: higher is better; "
        "times and CPU: lower is better). Server CPU counts all threads of the server "
        "process; on PostgreSQL the backends serving its database are added (+ PG).",
        "",
        "| Scenario | " + " | ".join(HEADS[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
        row(
            f"runs/wait `trivial`, {plan['wait_users']} clients: runs/s",
            lambda r: f"{r['wait']['rps']:,.1f}",
            "wait.rps",
        ),
        row("runs/wait latency p50 / p99, ms", lat("wait", ""), "wait.p50_ms"),
        row("runs/wait server CPU per run, ms", cpu("wait"), "wait.cpu_ms_per_run"),
        row(
            "runs/stream `trivial`, one at a time: first event (any; `metadata`) p50 / p99, ms",
            lat("stream", "first_event"),
            "stream.first_event.p50_ms",
        ),
        row(
            "runs/stream: first stream-mode event (`values`/`messages`) p50 / p99, ms",
            lat("stream", "first_mode_event"),
            "stream.first_mode_event.p50_ms",
        ),
        row(
            "runs/stream: last event p50 / p99, ms",
            lat("stream", "last_event"),
            "stream.last_event.p50_ms",
        ),
        row("runs/stream server CPU per run, ms", cpu("stream"), "stream.cpu_ms_per_run"),
        row(
            f"{n} concurrent `sleepy` streams (2 s): completed",
            lambda r: (
                f"{r['burst']['completed']} / {r['burst']['streams']}"
                + ("" if r["burst"]["completed"] == r["burst"]["streams"] else " ⚠")
            ),
            None,
        ),
        row(
            f"{n} `sleepy` streams: wall time until the last ends, s (median of rounds)",
            lambda r: f"{r['burst']['wall_s']:.1f}",
            "burst.wall_s",
        ),
        row(
            f"{n} `sleepy` streams: first event (any) p50 / max, s",
            lat("burst", "first_event", "s"),
            "burst.first_event.p50_ms",
        ),
        row(
            f"{n} `sleepy` streams: first stream-mode event p50 / max, s",
            lat("burst", "first_mode_event", "s"),
            "burst.first_mode_event.p50_ms",
        ),
        row(
            f"{n} `sleepy` streams: last event p50 / max, s",
            lat("burst", "last_event", "s"),
            "burst.last_event.p50_ms",
        ),
        row(f"{n} `sleepy` streams: server CPU per run, ms", cpu("burst"), "burst.cpu_ms_per_run"),
        row("Failed runs (wait, stream, burst)", errors, None),
        row(
            "Load generator CPU, busiest measurement (% of one core)",
            busiest("client_cpu_pct"),
            None,
        ),
        row(
            "Other processes' CPU, worst measurement (% of one core)",
            busiest("foreign_cpu_pct"),
            None,
        ),
    ]
    if ref and all(ref.get(s) for s in ("wait", "stream", "burst")):
        lines += ["", reproduction(ref, with_burst=n == 200)]
    notes = list(meta.get("notes") or [])
    for key in keys:
        for scenario in ("wait", "stream", "burst"):
            first = get(results[key], f"{scenario}.first_error")
            if first:
                notes.append(f"{HEADS[key]}, {scenario}: first failure: {first}")
    busy = [
        f"{HEADS[key]} {scenario} ({results[key][scenario]['foreign_cpu_pct']:.0f}%)"
        for key in keys
        for scenario in ("wait", "stream", "burst")
        if (get(results[key], f"{scenario}.foreign_cpu_pct") or 0) >= 10
    ]
    if busy:
        notes.append(
            "Other processes used ≥ 10% of a core during: " + ", ".join(busy) + ". Figures "
            "that depend on CPU (our throughputs and latencies) are pessimistic there; the "
            "reference's barely move, as its runs wait far more than they compute (about "
            "1 s per run at under 5% of a core). Rerun on a quiet machine for firm figures."
        )
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    lines += ["", *RERUN]
    return "\n".join(lines) + "\n"


RERUN = [
    "## Rerun",
    "",
    "```bash",
    "# once: the reference server, in a throwaway virtualenv outside the repository",
    'python3.11 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install "langgraph-cli[inmem]"',
    "uv run python bench/runs.py            # all three servers, about 8 minutes",
    "uv run python bench/runs.py --quick    # one short round, writes runs-quick.md",
    "uv run python bench/runs.py --probe --servers memory,postgres   # do our runs work?",
    "```",
    "",
    "Options: `--servers memory,postgres,reference` (any subset), `--ref-venv DIR`, "
    "`--ref-log-level LEVEL`, `--burst N`, `--no-pin`, `--quiet-wait S`. Our server is "
    "started as `python -m robyn_server --config bench/graphs/langgraph.json --port N "
    "--log-level WARNING` (with `DATABASE_URL` of a throwaway `bench_<hex>` database for "
    "PostgreSQL, dropped at the end); the reference as `langgraph dev --port N --no-browser "
    "--no-reload --n-jobs-per-worker 10 --server-log-level WARNING --config "
    "<scratch>/langgraph.json` in a scratch directory (its state goes there), the config "
    "being bench/graphs/langgraph.json with absolute paths. All raw figures (per round, "
    "p90, max, time to response head) are in the .json next to this file.",
]


def reproduction(ref: dict[str, Any], with_burst: bool) -> str:
    """The reference's figures here next to those quoted in the issue."""
    q = ISSUE_REFERENCE
    pairs = [
        ("runs/s", ref["wait"]["rps"], q["wait_rps"], "{:.1f}"),
        ("runs/wait p50 ms", ref["wait"]["p50_ms"], q["wait_p50_ms"], "{:.0f}"),
        ("CPU ms/run", ref["wait"]["cpu_ms_per_run"], q["wait_cpu_ms"], "{:.1f}"),
        (
            "first event p50 ms",
            ref["stream"]["first_event"]["p50_ms"],
            q["stream_first_event_p50_ms"],
            "{:.0f}",
        ),
        ("burst wall s", ref["burst"]["wall_s"], q["burst_wall_s"], "{:.0f}"),
        (
            "burst first event p50 s",
            ref["burst"]["first_event"]["p50_ms"] / 1000,
            q["burst_first_event_p50_s"],
            "{:.1f}",
        ),
    ]
    if not with_burst:  # the issue's burst figures are for 200 streams
        pairs = pairs[:4]
    text = ", ".join(
        f"{name} {fmt.format(here)} (issue: {fmt.format(quoted)})"
        for name, here, quoted, fmt in pairs
        if here is not None
    )
    return f"The reference here vs. the figures quoted in the issue: {text}."
