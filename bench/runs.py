"""Run-engine benchmark: our server (in memory and on PostgreSQL) against the reference
server (`langgraph dev`, from a throwaway virtualenv outside the repository), on the
graphs of bench/graphs/, in one invocation and in alternating rounds.

    uv run python bench/runs.py [--quick] [--servers memory,postgres,reference]
    uv run python bench/runs.py --probe     # does our server run `trivial` yet?

The reference comes from `python3.11 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install
"langgraph-cli[inmem]"` (`--ref-venv` to point elsewhere); nothing of it is imported here.
Servers run pinned to CPU 1, this process (the load generator) to CPU 0. Results go to
bench/results/runs.md and .json (`--quick`: runs-quick.*), which also say what each
scenario measures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import runs_scenarios as sc  # noqa: E402
from report import machine_info  # noqa: E402
from runs_report import aggregate, render  # noqa: E402
from servers import (  # noqa: E402
    HOST,
    PG_ADMIN_URL,
    Pinning,
    Server,
    add_quiet_wait,
    create_database,
    database_url,
    drop_database,
    free_port,
    log,
    our_server,
    run_cli,
    save_results,
    server_env,
)
from sysload import ForeignCpu, Quiet  # noqa: E402

GRAPHS_CONFIG = BENCH / "graphs" / "langgraph.json"
REF_JOBS = 10
SERVER_KEYS = ("memory", "postgres", "reference")


@dataclass(frozen=True)
class Plan:
    rounds: int
    wait_users: int
    wait_seconds: float
    stream_count: int
    burst_rounds: int
    burst_streams: int


FULL = Plan(
    rounds=3, wait_users=8, wait_seconds=15.0, stream_count=20, burst_rounds=2, burst_streams=200
)
QUICK = Plan(
    rounds=1, wait_users=8, wait_seconds=5.0, stream_count=5, burst_rounds=1, burst_streams=200
)


def reference_config(directory: Path) -> Path:
    """bench/graphs/langgraph.json with absolute paths, in a scratch directory: the
    reference keeps its state (.langgraph_api/) in its working directory, so it runs there
    and starts empty each time, on the very same graph files as ours."""
    raw = json.loads(GRAPHS_CONFIG.read_text())
    graphs_dir = GRAPHS_CONFIG.parent

    def absolute(spec: str) -> str:
        path, _, attr = spec.partition(":")
        return f"{(graphs_dir / path).resolve()}:{attr}"

    raw["graphs"] = {name: absolute(spec) for name, spec in raw["graphs"].items()}
    raw["dependencies"] = [str(graphs_dir)]
    config = directory / "langgraph.json"
    config.write_text(json.dumps(raw, indent=2))
    return config


def reference_server(pin: Pinning, venv: Path, directory: Path, log_level: str) -> Server:
    port = free_port()
    argv = [
        *pin.server_prefix(),
        str(venv / "bin" / "langgraph"),
        "dev",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
        "--n-jobs-per-worker",
        str(REF_JOBS),
        "--server-log-level",
        log_level,
        "--config",
        str(reference_config(directory)),
    ]
    env = server_env(None)
    env["LANGGRAPH_CLI_NO_ANALYTICS"] = "1"
    return Server("reference", argv, env, port, cwd=directory)


def reference_version(venv: Path) -> str | None:
    for meta in (venv / "lib").glob("python*/site-packages/langgraph_api-*.dist-info"):
        match = re.search(r"langgraph_api-(.+)\.dist-info", meta.name)
        if match:
            return match.group(1)
    return None


async def start_target(key: str, pin: Pinning, args: argparse.Namespace, scratch: Path):
    database = None
    if key == "memory":
        server = our_server("memory", pin, None, config=GRAPHS_CONFIG)
    elif key == "postgres":
        database = create_database()
        server = our_server("postgres", pin, database_url(database), config=GRAPHS_CONFIG)
    else:
        server = reference_server(pin, args.ref_venv, scratch, args.ref_log_level)
    target = sc.Target(key, server, database)
    try:
        await server.start()
    except RuntimeError as exc:
        target.broken = f"did not start: {str(exc)[:300]}"
        log(f"  {key}: {target.broken}")
        return target
    # Warm-up (graphs imported, first-run paths taken) and a check that runs work at all.
    for _ in range(3):
        error = await sc.probe(target)
        if error:
            target.broken = error
            log(f"  {key}: runs do not work: {error}")
            log(server.tail(15))
            break
    else:
        log(f"  {key}: runs/wait and runs/stream on `trivial` work")
    return target


def stop_target(target: sc.Target) -> None:
    target.server.stop()
    if target.database:
        drop_database(target.database)


def rotated(targets: list[sc.Target], round_no: int) -> list[sc.Target]:
    live = [t for t in targets if not t.broken]
    if not live:
        return []
    shift = round_no % len(live)
    return live[shift:] + live[:shift]


async def measure(targets: list[sc.Target], plan: Plan) -> dict[str, dict[str, list]]:
    """Every scenario, round after round; within a round each server in turn, in an order
    rotated every round, so that a noisy moment or a warm cache does not favour one."""
    raw: dict[str, dict[str, list]] = {
        t.key: {"wait": [], "stream": [], "burst": []} for t in targets
    }
    for r in range(plan.rounds):
        for t in rotated(targets, r):
            result = await sc.runs_wait(t, plan.wait_users, plan.wait_seconds)
            raw[t.key]["wait"].append(result)
            log(
                f"  round {r + 1} {t.key} runs/wait: {result['runs'] / result['seconds']:.1f}"
                f" runs/s, errors {result['errors']} {result['first_error'] or ''}"
            )
    for r in range(plan.rounds):
        for t in rotated(targets, r):
            result = await sc.runs_stream(t, plan.stream_count)
            raw[t.key]["stream"].append(result)
            first = sc.percentile(result["first_event_s"], 50)
            log(
                f"  round {r + 1} {t.key} runs/stream: first event p50 "
                f"{(first or 0) * 1000:.1f} ms, errors {result['errors']} "
                f"{result['first_error'] or ''}"
            )
    for r in range(plan.burst_rounds):
        for t in rotated(targets, r):
            result = await sc.burst(t, plan.burst_streams)
            raw[t.key]["burst"].append(result)
            log(
                f"  round {r + 1} {t.key} {plan.burst_streams} sleepy streams: "
                f"{result['completed']} completed in {result['seconds']:.1f} s "
                f"{result['first_error'] or ''}"
            )
    return raw


async def main_async(args: argparse.Namespace) -> int:
    pin = Pinning(not args.no_pin)
    Quiet.max_wait = args.quiet_wait if args.quiet_wait is not None else (3 if args.quick else 10)
    Quiet.budget = 12 * Quiet.max_wait
    pin.pin_self()
    plan = QUICK if args.quick else FULL
    if args.burst:
        plan = Plan(**{**plan.__dict__, "burst_streams": args.burst})
    keys = [k.strip() for k in args.servers.split(",") if k.strip()]
    if unknown := set(keys) - set(SERVER_KEYS):
        raise SystemExit(f"unknown servers {sorted(unknown)}; choose from {SERVER_KEYS}")
    meta = machine_info(pin)
    meta.update(
        mode="quick" if args.quick else "full",
        plan=plan.__dict__,
        reference_version=reference_version(args.ref_venv),
        reference_jobs=REF_JOBS,
        reference_log_level=args.ref_log_level,
        command=" ".join(["uv run python bench/runs.py", *sys.argv[1:]]),
        notes=[],
    )
    if "postgres" in keys and meta["postgres"] is None:
        meta["notes"].append(f"PostgreSQL unreachable at {PG_ADMIN_URL}: column skipped")
        keys.remove("postgres")
    if "reference" in keys and not (args.ref_venv / "bin" / "langgraph").exists():
        meta["notes"].append(f"no reference server in {args.ref_venv}: column skipped")
        keys.remove("reference")
    log(f"machine: {meta}")
    started = time.monotonic()

    targets: list[sc.Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-reference-") as scratch:
        try:
            for key in keys:
                targets.append(await start_target(key, pin, args, Path(scratch)))
            ForeignCpu.markers = tuple(t.database for t in targets if t.database)
            if args.probe:
                return 0 if all(not t.broken for t in targets) else 1
            raw = await measure(targets, plan)
        finally:
            ForeignCpu.markers = ()
            for target in targets:
                stop_target(target)

    meta["total_seconds"] = round(time.monotonic() - started, 1)
    meta["quiet_wait"] = {
        "max_per_measurement_s": Quiet.max_wait,
        "budget_s": Quiet.budget,
        "waited_s": round(Quiet.waited, 1),
        "gave_up": Quiet.gave_up,
    }
    for t in targets:
        if t.broken:
            meta["notes"].append(f"{t.key}: {t.broken}")
    results = {t.key: aggregate(raw[t.key]) for t in targets if not t.broken}
    report = render(meta, results)
    stem = "runs-quick" if args.quick else "runs"
    payload = {"meta": meta, "results": results, "raw": strip_samples(raw)}
    save_results(stem, report, payload)
    return 0


def strip_samples(raw: dict[str, dict[str, list]]) -> dict[str, Any]:
    """Per-round figures without the per-run sample lists (the aggregate has the
    percentiles), to keep the JSON readable."""
    return {
        key: {
            scenario: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in rounds]
            for scenario, rounds in scenarios.items()
        }
        for key, scenarios in raw.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (about 3 min)")
    parser.add_argument("--servers", default=",".join(SERVER_KEYS), help=",".join(SERVER_KEYS))
    parser.add_argument("--ref-venv", type=Path, default=Path("/tmp/refvenv"), metavar="DIR")
    parser.add_argument(
        "--ref-log-level",
        default="WARNING",
        help="the reference's --server-log-level (default WARNING, as ours; its own default "
        "is INFO, which logs every request and costs CPU)",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=None,
        metavar="N",
        help="concurrent sleepy streams (default 200)",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="only start the servers and check that runs work; exit 1 if not",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    add_quiet_wait(parser, 12)
    run_cli(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
