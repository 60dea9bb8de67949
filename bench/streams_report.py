"""The markdown report of bench/streams.py."""

from __future__ import annotations

from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return round(ordered[index], 3)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _triple(d: dict[Any, float | None]) -> str:
    values = list(d.values())
    return " / ".join(_s(v) for v in values)


def render(results: dict[str, Any]) -> str:
    m, a = results["machine"], results["args"]
    lines = [
        "# Many open streams",
        "",
        f"{m['date']}, {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Robyn {m['robyn']}, "
        f"PostgreSQL {m['postgres']}; {m['pinning']}.",
        "",
        f"{a['streams']} `POST /threads/{{id}}/runs/stream` requests opened in the same instant "
        f"(`slow` graph, runs of {a['run_seconds']:g} s, `stream_mode` values), from "
        f"{a['clients']} client processes; server with SERVER_WORKERS={a['workers']}, "
        f"RUN_MAX_CONCURRENCY={max(a['streams'], 1000)}"
        + (f", {' '.join(a['env'])}" if a["env"] else "")
        + ". Times in seconds. *End lag*: when the client read the end of the stream minus "
        "the run's `updated_at` as it ended.",
        "",
        "| | " + " | ".join(r["backend"] for r in results["runs"]) + " |",
        "|---|" + "---|" * len(results["runs"]),
    ]
    rows = [
        ("Refused (non-200)", lambda r: str(r["refused"])),
        ("Dropped (cut, error or no final values)", lambda r: str(r["dropped"])),
        ("Runs ended (read back)", lambda r: str(r["runs_ended"])),
        ("End lag p50 / p99 / max", lambda r: _triple(r["end_lag_s"])),
        (
            "Run end from request sent p50 / p99 / max",
            lambda r: _triple(r["run_seconds_from_send"]),
        ),
        ("First byte p50 / p99 / max", lambda r: _triple(r["first_byte_s"])),
        ("Request sent, from the start, p50 / p99 / max", lambda r: _triple(r["sent_s"])),
        ("Heartbeats per stream", lambda r: f"{r['heartbeats_per_stream']:.2f}"),
        (
            "Server RSS before / held / peak (MiB)",
            lambda r: (
                f"{r['rss_before_kib'] / 1024:.0f} / {r['rss_held_kib'] / 1024:.0f} / "
                f"{r['rss_peak_kib'] / 1024:.0f}"
            ),
        ),
        ("RSS per open stream with its run (KiB)", lambda r: f"{r['kib_per_stream']:.1f}"),
        (
            "Server threads before / held / peak",
            lambda r: f"{r['threads_before']} / {r['threads_held']} / {r['threads_peak']}",
        ),
        (
            "Server CPU s (+ PostgreSQL backends)",
            lambda r: (
                f"{r['server_cpu_s']:.1f}"
                + (f" + {r['postgres_cpu_s']:.1f}" if r["postgres_cpu_s"] is not None else "")
            ),
        ),
        (
            "Client event-loop lag p99 / max",
            lambda r: f"{r['client_loop_lag_p99_s']:.3f} / {r['client_loop_lag_max_s']:.3f}",
        ),
        ("Other processes' CPU meanwhile (% of a core)", lambda r: f"{r['other_cpu_percent']}"),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results["runs"]) + " |")
    if results["watchers"]:
        lines += [
            "",
            f"Pure watchers (`GET /threads/{{id}}/stream`, no run), {a['streams']} held 12 s on a "
            "fresh server:",
            "",
            "| | " + " | ".join(w["backend"] for w in results["watchers"]) + " |",
            "|---|" + "---|" * len(results["watchers"]),
            "| Opened / refused | "
            + " | ".join(f"{w['opened']} / {w['refused']}" for w in results["watchers"])
            + " |",
            "| RSS per watcher (KiB) | "
            + " | ".join(f"{w['kib_per_watcher']:.1f}" for w in results["watchers"])
            + " |",
            "| Server threads held | "
            + " | ".join(str(w["threads_held"]) for w in results["watchers"])
            + " |",
            "| Server CPU s (opening, 2 heartbeats each) | "
            + " | ".join(f"{w['server_cpu_s']:.1f}" for w in results["watchers"])
            + " |",
        ]
    samples = [r for r in results["runs"] if r["refused_sample"] or r["dropped_sample"]]
    for r in samples:
        lines += [
            "",
            f"{r['backend']}: refused {r['refused_sample']}, dropped {r['dropped_sample']}",
        ]
    lines += ["", "Rerun: `uv run python bench/streams.py` (see its docstring for options).", ""]
    return "\n".join(lines)
