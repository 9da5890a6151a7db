"""`make bench`: every scenario for deepagents-nb and its two Python alternatives, one table.

    .venv/bin/python benchmarks/run.py            # the full run (11 to 15 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats, to try a change
    .venv/bin/python benchmarks/run.py --only overhead,events

Ours runs in this interpreter's environment; LangChain's `deepagents` and
`pydantic-ai` run in `benchmarks/.envs/alternatives`, created here on first use
from `requirements-alternatives.txt` (and re-created when a pin changes), unless
only scenarios in which ours alone takes part are chosen (`--only kernel,images`). After
that nothing leaves the machine: every model is a fake in the scenario scripts.
Each scenario runs as a subprocess printing one JSON line; this script takes
medians, prints the table, and keeps every sample in `.envs/last-run.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common

HERE = Path(__file__).resolve().parent
ENVS = HERE / ".envs"
ALT_ENV = ENVS / "alternatives"
REQUIREMENTS = HERE / "requirements-alternatives.txt"
OURS = "ours"
LANGCHAIN = "deepagents"
PYDANTIC_AI = "pydantic-ai"
SCRIPTS = {OURS: "ours.py", LANGCHAIN: "alt_deepagents.py", PYDANTIC_AI: "alt_pydantic_ai.py"}
# Scenarios of ours kept in a script of their own (the agent in the kernel, batches).
OURS_SCRIPTS = {
    "kernel": "ours_kernel.py",
    "images": "ours_kernel.py",
    "map-rate": "ours_batch.py",
    "map-rows": "ours_batch.py",
    "map-memory": "ours_batch.py",
}
IMPORTS = {OURS: "deepagents_nb", LANGCHAIN: "deepagents", PYDANTIC_AI: "pydantic_ai"}

# Repeats per scenario (full run, quick run). Memory figures are deterministic to
# about 1%, and each memory repeat is a fresh process of 1,000 threads under
# tracemalloc (LangChain's takes about 100 s), so two repeats are enough there.
REPEATS = {
    "overhead": (15, 3),
    "concurrency": (5, 2),
    "import": (15, 3),
    "memory": (2, 1),
    "checkpoint": (30, 5),
    "events": (5, 2),
    "kernel": (200, 50),  # calls per kernel; agent runs are capped at 50
    "images": (100, 50),  # versions saved; the file growth is to 16 KiB / versions
    # Each run of (i) takes at least rows / 100 s (the server's limit) per variant, five
    # variants in all, so one run of 2,000 rows (under 2 minutes), or 500 with --quick.
    "map-rate": (1, 1),
    "map-rows": (3, 1),
    "map-memory": (1, 1),  # deterministic to ~0.5 %; fresh processes, two at a time
    "tracing": (15, 3),  # each repeat is one run per variant (off, on, on with content)
}
# Rows per run of (i) (full run, quick run); the other batch scenarios' sizes are fixed.
RATE_LIMIT_ROWS = (common.RATE_LIMIT_ROWS, 500)
# Rows of (k) (full run, quick run), scaled to 10,000. Ours runs 10,000 in ~35 s traced.
# LangChain's figure is linear in the rows (133.8 MiB from 1,000, 134.9 from 3,000) and
# 10,000 rows under tracemalloc would take it 4 minutes or more; pydantic-ai's is not
# (17.1 MiB from 1,000, 15.8 from 10,000: something fills up over the first thousands),
# so it runs the 10,000 (2 to 4 minutes, started first), but 1,000 with --quick.
MEMORY_ROWS = {
    OURS: (common.MEMORY_ROWS, common.MEMORY_ROWS),
    LANGCHAIN: (1000, 1000),
    PYDANTIC_AI: (common.MEMORY_ROWS, 1000),
}
SCENARIOS = list(REPEATS)
# Who takes part where: pydantic-ai has no checkpointer, and only ours an event
# dispatcher, a Python kernel for the agent, and a scenario with images in checkpoints.
FRAMEWORKS = {
    "overhead": [OURS, LANGCHAIN, PYDANTIC_AI],
    "concurrency": [OURS, LANGCHAIN, PYDANTIC_AI],
    "memory": [OURS, LANGCHAIN, PYDANTIC_AI],
    "checkpoint": [OURS, LANGCHAIN],
    "events": [OURS],
    "kernel": [OURS],
    "images": [OURS],
    "map-rate": [OURS, LANGCHAIN, PYDANTIC_AI],
    "map-rows": [OURS, LANGCHAIN, PYDANTIC_AI],
    "map-memory": [OURS, LANGCHAIN, PYDANTIC_AI],
    "tracing": [OURS, LANGCHAIN, PYDANTIC_AI],
}
# What an alternative's cell says in rows only ours takes part in.
OURS_ONLY = {
    "kernel": {LANGCHAIN: "no kernel tool", PYDANTIC_AI: "no kernel tool"},
    "images": {LANGCHAIN: "not measured", PYDANTIC_AI: "no saver"},
}


# ----- environments -----------------------------------------------------------------------


def alt_python() -> Path:
    return ALT_ENV / "bin" / "python"


def ensure_alternatives() -> None:
    """Create the alternatives' environment unless the stamp of these exact pins exists."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    stamp = ALT_ENV / f".installed-{digest}"
    if stamp.exists():
        return
    print(f"bench: installing the alternatives into {ALT_ENV.relative_to(HERE.parent)} ...")
    if ALT_ENV.exists():
        shutil.rmtree(ALT_ENV)
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", str(ALT_ENV)], check=True)
    pip = [str(alt_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.touch()


def interpreter(framework: str) -> str:
    return sys.executable if framework == OURS else str(alt_python())


# ----- running scenario scripts -----------------------------------------------------------


def run_script(
    framework: str, scenario: str, repeats: int, extra: list[str] | None = None
) -> dict[str, Any]:
    """One scenario script in its interpreter; returns its JSON record."""
    script = OURS_SCRIPTS.get(scenario, SCRIPTS[OURS]) if framework == OURS else SCRIPTS[framework]
    command = [interpreter(framework), str(HERE / script), scenario, *(extra or [])]
    proc = subprocess.run(
        [*command, "--repeats", str(repeats)], capture_output=True, text=True, cwd=HERE
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(common.RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"bench: {framework} {scenario} failed (exit {proc.returncode})")
    record: dict[str, Any] = json.loads(lines[-1][len(common.RESULT_MARK) :])
    return record


def merge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Records of separate processes for one scenario: samples joined, medians redone."""
    samples: dict[str, list[float]] = {}
    for record in records:
        for name, values in record["samples"].items():
            samples.setdefault(name, []).extend(values)
    merged = dict(records[0])
    merged["samples"] = samples
    merged["median"] = {name: statistics.median(values) for name, values in samples.items()}
    return merged


def run_memory(
    scenario: str, frameworks: list[str], repeats: int, quick: bool = False
) -> dict[str, dict[str, Any]]:
    """Each repeat in a fresh process, two at a time (heap sizes do not depend on speed)."""
    jobs = [framework for framework in frameworks for _ in range(repeats)]
    if scenario == "map-memory" and not quick:
        jobs.sort(key=lambda framework: framework != PYDANTIC_AI)  # the longest first

    def job(framework: str) -> dict[str, Any]:
        extra = []
        if scenario == "map-memory":
            extra = ["--rows", str(MEMORY_ROWS[framework][1 if quick else 0])]
        return run_script(framework, scenario, 1, extra)

    with ThreadPoolExecutor(max_workers=2) as pool:
        records = list(pool.map(job, jobs))
    return {
        framework: merge([r for r in records if r["framework"] == framework])
        for framework in frameworks
    }


def import_times(repeats: int) -> dict[str, dict[str, Any]]:
    """Wall time of `python -c "import X"` in fresh processes, less the bare interpreter's.

    Runs are interleaved across frameworks so a slow moment hits all of them; the
    first round is a warm-up (file cache) and is dropped.
    """
    commands: dict[str, list[str]] = {}
    for framework, module in IMPORTS.items():
        commands[framework] = [interpreter(framework), "-c", f"import {module}"]
        commands[f"{framework}:bare"] = [interpreter(framework), "-c", "pass"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as cwd:  # nothing in cwd shadows a package
        for round_number in range(repeats + 1):
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
                if round_number:
                    samples[name].append((time.perf_counter() - started) * 1e3)
    results = {}
    for framework in IMPORTS:
        total = statistics.median(samples[framework])
        bare = statistics.median(samples[f"{framework}:bare"])
        results[framework] = {
            "samples": {"total_ms": samples[framework], "bare_ms": samples[f"{framework}:bare"]},
            "median": {"total_ms": total, "bare_ms": bare, "import_ms": total - bare},
        }
    return results


# ----- the table --------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    unit: str
    ours: float | None
    alternatives: dict[str, float | None]
    target: str = ""
    met: bool | None = None
    note: dict[str, str] = field(default_factory=dict)
    higher_is_better: bool = False  # rows per second: the ratio is then ours / alt


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    elif value >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}"


def _ratio(alternative: float | None, ours: float | None, higher_is_better: bool = False) -> str:
    if alternative is None or not ours:
        return "-"
    if higher_is_better:
        return f"{ours / alternative:.1f}x" if alternative else "-"
    return f"{alternative / ours:.1f}x"


def print_table(rows: list[Row]) -> None:
    header = [
        "scenario",
        "ours",
        "deepagents (LangChain)",
        "pydantic-ai",
        "alt / ours",
        "target",
        "met",
    ]
    table = [header]
    for row in rows:
        alts = [row.alternatives.get(LANGCHAIN), row.alternatives.get(PYDANTIC_AI)]
        cells = [
            _fmt(value, row.unit) if name not in row.note else row.note[name]
            for name, value in zip([OURS, LANGCHAIN, PYDANTIC_AI], [row.ours, *alts], strict=True)
        ]
        ratios = " / ".join(_ratio(value, row.ours, row.higher_is_better) for value in alts)
        met = "-" if row.met is None else "yes" if row.met else "NO"
        table.append([row.scenario, *cells, ratios, row.target, met])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    rule = "  ".join("-" * width for width in widths)
    print(rule)
    for number, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if number == 0:
            print(rule)
    print(rule)
    print("alt / ours: deepagents / pydantic-ai median over ours (> 1: ours is faster/smaller;")
    print("  in the rows per second and % of limit rows, ours over theirs)")


def _fastest(values: dict[str, float | None]) -> float | None:
    present = [v for v in values.values() if v is not None]
    return min(present) if present else None


def rows_for(results: dict[str, dict[str, dict[str, Any]]]) -> list[Row]:
    rows: list[Row] = []

    def median(framework: str, scenario: str, metric: str) -> float | None:
        value = results.get(scenario, {}).get(framework, {}).get("median", {}).get(metric)
        return None if value is None else float(value)

    def compare(
        scenario: str,
        label: str,
        unit: str,
        ours_metric: str,
        alt_metric: str,
        target: str,
        check: Callable[[float, float], bool],
    ) -> None:
        alternatives = {
            LANGCHAIN: median(LANGCHAIN, scenario, alt_metric),
            PYDANTIC_AI: median(PYDANTIC_AI, scenario, alt_metric),
        }
        ours = median(OURS, scenario, ours_metric)
        fastest = _fastest(alternatives)
        met = None if ours is None or fastest is None else check(ours, fastest)
        rows.append(Row(label, unit, ours, alternatives, target, met))

    if "overhead" in results:
        for variant in ("default stack", "bare"):
            compare(
                "overhead",
                f"(a) overhead per step, {variant}",
                "us",
                f"step_us[{variant}]",
                "step_us",
                "<= 1/3 of the faster alt",
                lambda ours, fastest: ours <= fastest / 3,
            )
    if "concurrency" in results:
        limit = 1.2 * common.IDEAL_WALL_S
        for variant in ("default stack", "bare"):
            compare(
                "concurrency",
                f"(b) 200 runs x 5 calls of 50 ms, {variant}",
                "s",
                f"wall_s[{variant}]",
                "wall_s",
                f"<= {limit:.2f} s (1.2 x ideal)",
                lambda ours, fastest: ours <= limit,
            )
    if "import" in results:
        compare(
            "import",
            "(c) import time (less bare interpreter)",
            "ms",
            "import_ms",
            "import_ms",
            "<= 1/2 of the faster alt",
            lambda ours, fastest: ours <= fastest / 2,
        )
    if "memory" in results:
        compare(
            "memory",
            "(d) memory per stored thread",
            "KiB",
            "kib_per_thread",
            "kib_per_thread",
            "less than either",
            lambda ours, fastest: ours < fastest,
        )
    if "checkpoint" in results:
        rows.extend(_checkpoint_rows(results["checkpoint"]))
    if "events" in results:
        ours = median(OURS, "events", "event_us")
        per_second = f" ({1e6 / ours:,.0f} events/s)" if ours else ""
        rows.append(
            Row(
                f"(f) event, 3 broadcasters{per_second}",
                "us",
                ours,
                {LANGCHAIN: None, PYDANTIC_AI: None},
                "none (absolute)",
            )
        )
    if "kernel" in results:
        rows.extend(_kernel_rows(results["kernel"].get(OURS, {}).get("median", {})))
    if "images" in results:
        rows.extend(_image_rows(results["images"].get(OURS, {})))
    if "map-rate" in results:
        rows.extend(_rate_limit_rows(results["map-rate"]))
    if "map-rows" in results:
        rows.extend(_instant_rows(results["map-rows"]))
    if "map-memory" in results:
        rows.extend(_batch_memory_rows(results["map-memory"]))
    if "tracing" in results:
        rows.extend(_tracing_rows(results["tracing"]))
    return rows


def _tracing_rows(tracing: dict[str, dict[str, Any]]) -> list[Row]:
    """(l): the step of (a) untraced, traced, and what tracing adds, per framework.

    "cost" is each repeat's traced step less the untraced one of the same repeat
    (the runs interleave), so a slow moment of the machine cancels out.
    """

    def medians(metric: str) -> dict[str, float | None]:
        return {
            framework: tracing.get(framework, {}).get("median", {}).get(metric)
            for framework in (OURS, LANGCHAIN, PYDANTIC_AI)
        }

    def row(label: str, metric: str, target: str = "", check: bool = False) -> Row:
        values = medians(metric)
        ours = values.pop(OURS)
        fastest = _fastest(values)
        met = None
        if check and ours is not None and fastest is not None:
            met = ours <= fastest / 3
        return Row(label, "us", ours, values, target, met)

    rows = [row("(l) step, tracing off (the same runs)", f"step_us[{common.TRACING_OFF}]")]
    for variant, what in (("on", "content off"), ("on, content", "content on")):
        target = "<= 1/3 of the faster alt"
        rows.append(row(f"(l) step, tracing on, {what}", f"step_us[{variant}]", target, True))
        rows.append(row(f"(l) tracing cost per step, {what}", f"cost_us[{variant}]"))
    return rows


def _tracing_notes(tracing: dict[str, dict[str, Any]]) -> None:
    """What LangChain's figures include: its flush's wait, and the spans LangSmith lost."""
    record = tracing.get(LANGCHAIN)
    if not record:
        return
    flushes = [v for k, v in record["median"].items() if k.startswith("flush_ms[")]
    info = record.get("info", {})
    dropped = info.get("dropped_spans", {})
    runs = info.get("runs_per_variant", 0)
    per_run = sum(info.get("spans_per_run", {}).values())
    if flushes:
        calls = common.OVERHEAD_TOOL_CALLS + 1
        flush = max(flushes)
        print(
            f"(l) LangChain: client.flush() at the end of each traced run, median "
            f"{flush:.0f} ms ({flush * 1e3 / calls:,.0f} us per step; LangSmith's thread "
            f"waits up to 50 ms for more runs)"
        )
    if dropped:
        lost = ", ".join(f"{name}: {count}" for name, count in dropped.items())
        print(f"(l) LangChain: spans LangSmith lost in {runs} runs of {per_run:,} spans: {lost}")


def _rate_cell(record: dict[str, Any], prefix: str = "") -> tuple[float | None, str]:
    """Throughput as % of the limit, and the cell "wall s, % of limit, failed rows"."""
    median = record.get("median", {})
    pct = median.get(f"{prefix}pct_of_limit")
    if pct is None:
        return None, "not measured"
    wall = median[f"{prefix}wall_s"]
    failed = max(record["samples"][f"{prefix}failed"])  # the worst repeat
    return float(pct), f"{wall:.1f} s, {pct:.1f} %, {failed:,.0f} failed"


def _rate_limit_rows(rate: dict[str, dict[str, Any]]) -> list[Row]:
    """(i): ours three ways against each alternative's batch idiom on the same server.

    "Ahead" counts failed rows first: an alternative that gives up on rows finishes
    its wall time sooner and answers its remaining rows at the server's rate too.
    """
    ours = rate.get(OURS, {})
    info = ours.get("info", {}).get("variants", {}).get("map", {})
    rows_per_run = info.get("rows", common.RATE_LIMIT_ROWS)
    ideal = rows_per_run / common.RATE_LIMIT_RPS
    limit = f"{common.RATE_LIMIT_RPS:.0f} req/s (ideal {ideal:.0f} s)"
    alternatives: dict[str, float | None] = {}
    note: dict[str, str] = {}
    worst: dict[str, tuple[float, float]] = {}  # failed rows, -% of limit: lower is ahead
    for framework in (LANGCHAIN, PYDANTIC_AI):
        record = rate.get(framework, {})
        alternatives[framework], note[framework] = _rate_cell(record)
        if alternatives[framework] is not None:
            worst[framework] = (max(record["samples"]["failed"]), -alternatives[framework])
    rows = []
    variants = (
        ("map", f"agent.map(concurrency={common.BATCH_CONCURRENCY})"),
        ("map rpm", f"agent.map(..., rpm={60 * common.RATE_LIMIT_RPS:.0f})"),
        ("gather", "gather + ahandle_message (no limiter)"),
    )
    for variant, what in variants:
        value, cell = _rate_cell(ours, f"{variant}.") if ours else (None, "not measured")
        label = f"(i) {rows_per_run:,} rows at {limit}, {what}"
        target, met = "", None
        if variant == "map" and value is not None:
            failed = max(ours["samples"]["map.failed"])
            mine = (failed, -value)
            target = ">= 90 %, 0 failed, ahead of each"
            met = value >= 90 and failed == 0 and all(mine < theirs for theirs in worst.values())
        cells = {**note, OURS: cell}
        rows.append(Row(label, "%", value, alternatives, target, met, cells, True))
    return rows


def _instant_rows(instant: dict[str, dict[str, Any]]) -> list[Row]:
    alternatives = {
        framework: instant.get(framework, {}).get("median", {}).get("rows_per_s")
        for framework in (LANGCHAIN, PYDANTIC_AI)
    }
    ours = instant.get(OURS, {}).get("median", {})
    rows = []
    for variant, what in (("map", "agent.map"), ("gather", "gather + ahandle_message")):
        label = f"(j) rows per second, instant model, {common.INSTANT_ROWS:,} rows, {what}"
        value = ours.get(f"{variant}.rows_per_s")
        rows.append(
            Row(label, "rows/s", value, alternatives, "none (absolute)", higher_is_better=True)
        )
    return rows


def _batch_memory_rows(memory: dict[str, dict[str, Any]]) -> list[Row]:
    alternatives = {
        framework: memory.get(framework, {}).get("median", {}).get("mib_per_10k")
        for framework in (LANGCHAIN, PYDANTIC_AI)
    }
    ours = memory.get(OURS, {}).get("median", {})
    return [
        Row(
            "(k) memory per 10,000 finished rows, agent.map, result DataFrame kept",
            "MiB",
            ours.get("mib_per_10k"),
            alternatives,
            "none (absolute)",
        ),
        Row(
            "(k) the same after the result DataFrame is dropped",
            "MiB",
            ours.get("mib_per_10k_without_frame"),
            {LANGCHAIN: None, PYDANTIC_AI: None},
            "none (absolute)",
            note={LANGCHAIN: "-", PYDANTIC_AI: "-"},
        ),
    ]


def _ours_only(scenario: str, label: str, unit: str, value: float | None) -> Row:
    """A row only ours takes part in: each alternative's cell says why, no target."""
    note = dict(OURS_ONLY[scenario])
    if value is None:
        note[OURS] = "not measured"
    return Row(
        label, unit, value, {LANGCHAIN: None, PYDANTIC_AI: None}, "none (absolute)", None, note
    )


def _kernel_rows(median: dict[str, float]) -> list[Row]:
    code = 'run_python("1 + 1")'
    rows = []
    for mode in ("isolated", "live"):
        p90 = median.get(f"{mode}.p90_ms")
        tail = f", p90 {_fmt(p90, 'ms')}" if p90 is not None else ""
        label = f"(g) {code}, {mode} kernel (median{tail})"
        rows.append(_ours_only("kernel", label, "ms", median.get(f"{mode}.call_ms")))
    startup = median.get("isolated.startup_ms")
    rows.append(_ours_only("kernel", "(g) isolated kernel start-up (first call)", "ms", startup))
    for mode in ("isolated", "live"):
        label = f"(g) agent run calling {code}, {mode}"
        rows.append(_ours_only("kernel", label, "ms", median.get(f"agent-{mode}.run_ms")))
    return rows


def _image_rows(images: dict[str, Any]) -> list[Row]:
    """The image thread's figures; the same thread without the image in the label."""
    median = images.get("median", {})
    size = images.get("info", {}).get("png_bytes")
    png = f"{size / 1024:.0f} KiB PNG" if size else "PNG"
    rows = []
    for backend in ("memory", "sqlite"):
        for operation in ("save", "load"):
            plain = median.get(f"{backend}.plain.{operation}_ms")
            without = f" (no image: {_fmt(plain, 'ms')})" if plain is not None else ""
            label = f"(h) {png} in checkpoint, {operation}, {backend}{without}"
            value = median.get(f"{backend}.image.{operation}_ms")
            rows.append(_ours_only("images", label, "ms", value))
    plain = median.get("sqlite.plain.kib_per_version")
    without = f" (no image: {_fmt(plain, 'KiB')})" if plain is not None else ""
    label = f"(h) sqlite file growth per version{without}"
    rows.append(_ours_only("images", label, "KiB", median.get("sqlite.image.kib_per_version")))
    return rows


def _checkpoint_rows(checkpoint: dict[str, dict[str, Any]]) -> list[Row]:
    """Ours per backend against the faster of LangGraph's sync and async saver of that kind."""
    rows = []
    ours = checkpoint.get(OURS, {})
    langgraph = checkpoint.get(LANGCHAIN, {}).get("median", {})
    # "save" is the next version of a thread (files unchanged since the last save);
    # "first save" a new thread whose 50 files are all new. LangGraph writes every
    # channel in full either way, so its save time stands against both.
    operations = (("save", "save_ms"), ("first save", "save_ms"), ("load", "load_ms"))
    for backend in ("memory", "sqlite", "redis", "postgres"):
        for operation, metric in operations:
            mine = ours.get("median", {}).get(f"{backend}.{operation.replace(' ', '_')}_ms")
            candidates = [langgraph.get(f"{backend}{kind}.{metric}") for kind in ("", "-async")]
            theirs = min((c for c in candidates if c is not None), default=None)
            note = {PYDANTIC_AI: "no saver"}
            if theirs is None:
                note[LANGCHAIN] = "no saver"
            if mine is None:
                note[OURS] = "not running"
            met = None if mine is None or theirs is None else mine < theirs
            target = "faster than LangGraph" if theirs is not None else ""
            label = f"(e) checkpoint {operation}, {backend}"
            rows.append(Row(label, "ms", mine, {LANGCHAIN: theirs}, target, met, note))
    return rows


# ----- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    if any(scenario == "import" or FRAMEWORKS[scenario] != [OURS] for scenario in chosen):
        ensure_alternatives()  # not needed when only ours takes part
    load_before = os.getloadavg()[0]

    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in SCENARIOS:
        if scenario not in chosen:
            continue
        repeats = REPEATS[scenario][1 if args.quick else 0]
        print(f"bench: {scenario} ({repeats} repeats) ...", flush=True)
        if scenario == "import":
            results[scenario] = import_times(repeats)
        elif scenario in ("memory", "map-memory"):
            results[scenario] = run_memory(scenario, FRAMEWORKS[scenario], repeats, args.quick)
        else:
            extra = []
            if scenario == "map-rate":
                extra = ["--rows", str(RATE_LIMIT_ROWS[1 if args.quick else 0])]
            results[scenario] = {
                framework: run_script(framework, scenario, repeats, extra)
                for framework in FRAMEWORKS[scenario]
            }
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    ENVS.mkdir(exist_ok=True)
    (ENVS / "last-run.json").write_text(json.dumps(results, indent=1))
    print()
    print_table(rows_for(results))
    print(f"medians of repeated runs, {elapsed:.0f} s in all; samples in .envs/last-run.json")
    _tracing_notes(results.get("tracing", {}))
    backends = results.get("checkpoint", {}).get(OURS, {}).get("info", {}).get("backends", {})
    for backend, status in backends.items():
        if status != "running":
            print(f"{backend}: {status}")
    version = sys.version.split()[0]
    print(f"python {version}, {os.cpu_count()} cores, load average {load_before:.2f}")
    if max(load_before, load_after) > 0.5:
        print("note: the machine was busy with other work; timings are noisier than usual")


if __name__ == "__main__":
    main()
