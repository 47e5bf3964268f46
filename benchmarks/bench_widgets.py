"""The no-code layer's speed and weight (issue 12).

1. Opening the wizards on a large version costs about what it costs on a small one: the
   Upload preview (of a CSV and a Parquet file), Explore and Clean on a 5,000,000-row version
   against a 1,000-row one of the same columns (target <= 2x), with the largest comm message
   each sends (target <= 1 MB): a wizard must never ship the data itself to the browser. The
   same for an interaction in Clean (add a step) and for a dashboard (open, change a filter).
2. A fresh kernel displays ``aq.App()`` about as fast as it imports pandas, plotly and
   ipywidgets and displays one empty figure (target <= 1.5x): the ML stack is not imported
   on the way.

Comm messages are recorded by a ``comm`` implementation that measures what each message
would carry (its JSON and binary buffers); kernel timings use real kernels (jupyter_client).

    python benchmarks/bench_widgets.py [--rows 5000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_line, write_section  # noqa: E402

SECTION = "## Wizards: opening on large data, message sizes, app cold start"


class Recorder:
    """The sizes of the comm messages widgets send (JSON plus binary buffers)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def install(self) -> None:
        import comm
        from comm.base_comm import BaseComm

        recorder = self

        class RecordingComm(BaseComm):
            def publish_msg(
                self,
                msg_type: str,
                data: Any = None,
                metadata: Any = None,
                buffers: Any = None,
                **keys: Any,
            ) -> None:
                size = len(json.dumps(data, default=str).encode())
                size += sum(len(memoryview(b).cast("B")) for b in buffers or [])
                recorder.sizes.append(size)

        comm.create_comm = lambda *a, **kw: RecordingComm(*a, **kw)

    def reset(self) -> None:
        self.sizes = []

    @property
    def largest(self) -> int:
        return max(self.sizes, default=0)


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Sales-like rows: dates, categories, numbers with some missing values."""
    rng = np.random.default_rng(seed)
    revenue = rng.gamma(2.0, 60.0, rows)
    revenue[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), "D"),
            "region": rng.choice(["North", "South", "East", "West"], rows),
            "product": rng.choice(["Widget", "Gadget", "Gizmo", "Doohickey"], rows),
            "units": rng.integers(1, 50, rows),
            "unit_price": rng.choice([9.99, 12.5, 19.0, 34.0], rows),
            "revenue": revenue,
            "channel": rng.choice(["online", "store", "partner", None], rows),
        }
    )


@dataclass
class Case:
    """One thing a user does in a wizard, timed on both versions: ``setup(ref)`` prepares
    (not timed), ``act(state)`` is what the user waits for and returns the widget,
    ``settle(widget)`` waits for the background work the action started (not timed, but the
    messages it sends count: they reach the browser too)."""

    what: str
    act: Callable[[Any], Any]
    setup: Callable[[str], Any] = lambda ref: ref
    settle: Callable[[Any], None] = lambda widget: None


def timed(repeat: int, case: Case, ref: str, recorder: Recorder) -> tuple[float, int]:
    """Median wall time of the action and the largest message any run sent."""
    times, largest = [], 0
    for _ in range(repeat):
        state = case.setup(ref)
        recorder.reset()
        start = time.perf_counter()
        widget = case.act(state)
        times.append(time.perf_counter() - start)
        case.settle(widget)
        largest = max(largest, recorder.largest)
        # not closed: close_all() would also close module-level Layout widgets others share
    return statistics.median(times), largest


def write_files(folder: Path, rows: int) -> None:
    """The two versions' rows as files of the Jupyter workspace, for the Upload preview."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for name, data in (("small", frame(1000, seed=1)), ("big", frame(rows))):
        table = pa.Table.from_pandas(data, preserve_index=False)
        pacsv.write_csv(table, folder / f"{name}.csv")
        pq.write_table(table, folder / f"{name}.parquet")


def dashboard_spec(ref: str) -> dict[str, Any]:
    """A KPI with a period comparison, four charts and a category filter over ``ref``."""
    return {
        "name": f"bench-{ref}",
        "title": "Bench",
        "bindings": {"datasets": {"d": ref}},
        "kpis": [
            {
                "id": "rev",
                "dataset": "d",
                "column": "revenue",
                "agg": "sum",
                "date_column": "date",
                "period": "month",
            }
        ],
        "charts": [
            {"id": "bar", "type": "bar", "dataset": "d", "x": "region", "y": "revenue"},
            {"id": "line", "type": "line", "dataset": "d", "x": "date", "y": "revenue"},
            {"id": "pie", "type": "pie", "dataset": "d", "x": "channel"},
            {"id": "hist", "type": "histogram", "dataset": "d", "x": "unit_price"},
        ],
        "filters": [{"id": "r", "dataset": "d", "column": "region", "type": "multi_select"}],
    }


def cases(ws: Any, folder: Path, profiles: Any) -> list[Case]:
    from astralytiq_jupyter.widgets.clean import CleanWizard
    from astralytiq_jupyter.widgets.dashboard import Dashboard
    from astralytiq_jupyter.widgets.explore import ExploreWizard
    from astralytiq_jupyter.widgets.upload import UploadWizard

    def upload(ext: str) -> Callable[[str], Any]:
        def act(ref: str) -> Any:
            # the user picks the file in the workspace browser; the preview is what they wait for
            wizard = UploadWizard(ws, workspace_root=folder, background=False)
            wizard.source.value = "workspace"
            wizard.files.entries.value = ("file", f"{ref}.{ext}")
            assert wizard.preview is not None, wizard.preview_note.value
            return wizard

        return act

    def cold(ref: str) -> str:
        # the first opening of a version: no profile computed yet (none in the service's
        # cache), so Clean's profile runs right after its preview, as a new version's would
        profiles.clear()
        return ref

    def clean_open(ref: str) -> Any:
        wizard = CleanWizard(ref, ws=ws)
        # opening = the grid shows the first rows; the profile behind the suggested fixes
        # continues in the background (settled, untimed)
        wizard._previews.wait(600)  # noqa: SLF001 - the preview alone, not the profile
        return wizard

    def clean_add(wizard: Any) -> Any:
        wizard.add_step({"op": "fill_missing", "columns": ["revenue"], "strategy": "median"})
        wizard._previews.wait(600)  # noqa: SLF001
        assert wizard.last_preview is not None
        return wizard

    def clean_ready(ref: str) -> Any:
        wizard = CleanWizard(ref, ws=ws)
        wizard.wait(600)
        return wizard

    def dash_ready(ref: str) -> Any:
        return Dashboard(ws=ws, spec=dashboard_spec(ref), background=False)

    def dash_filter(page: Any) -> Any:
        (region,) = page.filters
        region.control.value = ("East", "West")
        page.loads.wait(600)
        return page

    return [
        Case("Upload: preview of a CSV file", upload("csv")),
        Case("Upload: preview of a Parquet file", upload("parquet")),
        Case(
            "Explore: open",
            lambda ref: ExploreWizard(ref, ws),
            setup=cold,
            settle=lambda w: w.loads.wait(600),
        ),
        Case("Clean: open", clean_open, setup=cold, settle=lambda w: w.wait(600)),
        Case("Clean: add a step (preview)", clean_add, setup=clean_ready),
        Case("Dashboard: open (KPI + 4 charts)", dash_ready),
        Case("Dashboard: filter change", dash_filter, setup=dash_ready),
    ]


def bench_open(rows: int, repeat: int, only: str = "") -> list[dict[str, Any]]:
    from astralytiq_jupyter.client import Workspace
    from astralytiq_jupyter.client.local import LocalBackend
    from astralytiq_jupyter.widgets.explore import ExploreWizard

    recorder = Recorder()
    recorder.install()
    home = Path(tempfile.mkdtemp(prefix="aq-bench-widgets-"))
    backend = LocalBackend.open(home=home)
    ws = Workspace(backend)
    profiles = backend.store.datasets.profiles
    started = time.perf_counter()
    ws.datasets.save(frame(rows), "big")
    ws.datasets.save(frame(1000, seed=1), "small")
    folder = home / "files"
    folder.mkdir()
    write_files(folder, rows)
    print(f"stored {rows:,} + 1,000 rows in {time.perf_counter() - started:.1f} s", flush=True)
    results = []
    for case in cases(ws, folder, profiles):
        if not case.what.startswith(only):
            continue
        timed(1, case, "small", recorder)  # warm-up: first-use imports and caches, not timed
        small = timed(repeat, case, "small", recorder)
        big = timed(repeat, case, "big", recorder)
        results.append({"what": case.what, "small": small, "big": big})
        print(case.what, small, big, flush=True)
    # the full profile in the background, for the record (not part of "opening")
    for ref in ("small", "big") if not only else ():
        profiles.clear()
        wizard = ExploreWizard(ref, ws)
        start = time.perf_counter()
        wizard.loads.wait(600)
        results.append({"profile": ref, "seconds": time.perf_counter() - start})
    return results


_APP = """
import time
t0 = time.perf_counter()
import sys
import astralytiq_jupyter as aq
import astralytiq_jupyter.widgets.app
heavy = [m for m in ("sklearn", "statsmodels", "skops") if m in sys.modules]
app = aq.App()
display(app)
print(time.perf_counter() - t0, heavy)
"""
_BASELINE = """
import time
t0 = time.perf_counter()
import pandas, ipywidgets
import plotly.graph_objects as go
display(go.Figure())
print(time.perf_counter() - t0, [])
"""


def bench_kernel(code: str, home: str) -> tuple[float, float, list[str]]:
    """(wall seconds from kernel start request to the cell's reply, seconds inside the cell,
    heavy modules imported by then) in a fresh kernel."""
    import os

    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "ASTRALYTIQ_HOME": home}
    env.pop("ASTRALYTIQ_URL", None)
    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        kc.execute(code)
        inside, modules = None, []
        while True:
            msg = kc.get_iopub_msg(timeout=300)
            if msg["msg_type"] == "stream":
                text = msg["content"]["text"].strip().split(" ", 1)
                inside, modules = float(text[0]), json.loads(text[1].replace("'", '"'))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        wall = time.perf_counter() - start
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return wall, inside or float("nan"), modules


def bench_app(repeat: int) -> dict[str, Any]:
    import astralytiq_jupyter as aq

    home = tempfile.mkdtemp(prefix="aq-bench-app-")
    ws = aq.connect(home=home)
    ws.datasets.save(frame(1000), "sales")
    app, base = [], []
    heavy: list[str] = []
    for _ in range(repeat):  # alternate so both see the same machine load
        a = bench_kernel(_APP, home)
        b = bench_kernel(_BASELINE, home)
        app.append(a)
        base.append(b)
        heavy = sorted(set(heavy) | set(a[2]))
        print("app", a, "baseline", b, flush=True)
    return {
        "app_wall": statistics.median(x[0] for x in app),
        "app_cell": statistics.median(x[1] for x in app),
        "base_wall": statistics.median(x[0] for x in base),
        "base_cell": statistics.median(x[1] for x in base),
        "heavy": heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="run only the actions starting with this (e.g. Dashboard)"
    )
    args = parser.parse_args()
    load = _load()
    opened = bench_open(args.rows, args.repeat, args.only)
    if args.only:
        update_rows(opened, args, load)
        return
    app = bench_app(args.repeat)
    load_end = _load()

    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_widgets.py --rows {args.rows} --repeat {args.repeat}`; "
        f"median of {args.repeat} runs. {machine_line()} Load average (1 min) at start / end: "
        f"{load} / {load_end} on 2 CPUs shared with other jobs.",
        "",
        f"### Opening a wizard: {args.rows:,} rows against 1,000 rows",
        "",
        "The baseline of each row is the same action on a 1,000-row version of the same "
        "columns, in the same process and run; the ratio is the large time over the small one. "
        "The largest message counts everything the action sent to the browser, including what "
        "its background work sent afterwards (the profile behind Explore's overview and "
        "Clean's suggested fixes).",
        "",
        "| action | 1,000 rows (s) | largest message | "
        f"{args.rows:,} rows (s) | largest message | time ratio | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in opened:
        if "what" not in r:
            continue
        lines.append(_row(r))
    profiles = {r["profile"]: r["seconds"] for r in opened if "profile" in r}
    lines += [
        "",
        "Each action was run once untimed first (first-use imports). Upload: from picking the "
        "file in the workspace browser to its parsed preview (a bounded head), column types and "
        "quality summary on screen. Explore: the call returns with the overview, the quality "
        "summary recorded at ingest and the first page of rows; Clean: with the grid's preview "
        "of the first rows. The full profile (exact statistics over every row, behind "
        "Explore's details and Clean's suggested fixes) then completes in the background: "
        f"{profiles.get('small', 0):.2f} s for 1,000 rows, {profiles.get('big', 0):.1f} s for "
        f"{args.rows:,}. Dashboard: from the call to every KPI and chart drawn (aggregations "
        "and samples next to the data), and from a filter change to all of them redrawn.",
        "",
        "### `aq.App()` in a fresh kernel",
        "",
        "| | wall from kernel start (s) | inside the cell (s) |",
        "| --- | ---: | ---: |",
        f"| `aq.App()` displayed | {app['app_wall']:.2f} | {app['app_cell']:.2f} |",
        f"| pandas + plotly + ipywidgets, one empty figure displayed | {app['base_wall']:.2f} | "
        f"{app['base_cell']:.2f} |",
        f"| ratio (target <= 1.5x) | {app['app_wall'] / app['base_wall']:.2f}x | "
        f"{app['app_cell'] / app['base_cell']:.2f}x |",
        "",
        "ML modules imported by `import astralytiq_jupyter` and the app's module: "
        + (
            ", ".join(app["heavy"])
            or "none (scikit-learn, statsmodels and skops load in the background afterwards)"
        )
        + ".",
    ]
    write_section(SECTION, "\n".join(lines))
    print("\n".join(lines))


def _row(r: dict[str, Any]) -> str:
    (ts, ms), (tb, mb) = r["small"], r["big"]
    ratio = tb / ts
    ok = ratio <= 2 and max(ms, mb) <= 1_000_000
    return (
        f"| {r['what']} | {ts:.3f} | {ms / 1000:.1f} kB | {tb:.3f} | {mb / 1000:.1f} kB | "
        f"{ratio:.2f}x | <= 2x, <= 1 MB | {'yes' if ok else 'no'} |"
    )


def update_rows(opened: list[dict[str, Any]], args: argparse.Namespace, load: str) -> None:
    """Replace the rows of the actions run (``--only``) in the section's table, and say when
    and how they were measured under it; the other rows stay as measured before."""
    from _results import RESULTS

    lines = RESULTS.read_text().splitlines()
    start = lines.index(SECTION)
    measured = [r for r in opened if "what" in r]
    for r in measured:
        at = next(i for i in range(start, len(lines)) if lines[i].startswith(f"| {r['what']} |"))
        lines[at] = _row(r)
    # the notes go below the table, one per --only, whichever rows were run
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("| "))
    after = next(i for i in range(first, len(lines)) if not lines[i].startswith("| "))
    note = (
        f"Rows starting with '{args.only}' re-measured by `python benchmarks/bench_widgets.py "
        f"--rows {args.rows} --repeat {args.repeat} --only {shlex.quote(args.only)}` (median of "
        f"{args.repeat}); {machine_line()} Load average (1 min) at start / end: {load} / "
        f"{_load()}."
    )
    at = after
    while at + 1 < len(lines) and lines[at] == "" and lines[at + 1].startswith("Rows starting"):
        if lines[at + 1].startswith(f"Rows starting with '{args.only}' "):
            lines[at + 1] = note
            break
        at += 2
    else:
        lines[at:at] = ["", note]
    RESULTS.write_text("\n".join(lines) + "\n")
    for r in measured:
        print(_row(r))


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
