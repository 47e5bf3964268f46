"""The no-code layer's speed and weight (issue 12).

1. Opening the wizards on a large version costs about what it costs on a small one: the
   Upload preview, Explore and Clean on a 5,000,000-row version against a 1,000-row one of
   the same columns (target <= 2x), with the largest comm message each sends (target <= 1 MB):
   a wizard must never ship the data itself to the browser.
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
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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


def timed(repeat: int, open_: Callable[[], Any], recorder: Recorder) -> tuple[float, int]:
    """Median wall time of ``open_`` and the largest message any run sent."""
    times, largest = [], 0
    for _ in range(repeat):
        recorder.reset()
        start = time.perf_counter()
        widget = open_()
        times.append(time.perf_counter() - start)
        largest = max(largest, recorder.largest)
        widget.close_all() if hasattr(widget, "close_all") else None
    return statistics.median(times), largest


def bench_open(rows: int, repeat: int) -> list[dict[str, Any]]:
    import astralytiq_jupyter as aq
    from astralytiq_jupyter.widgets.explore import ExploreWizard

    recorder = Recorder()
    recorder.install()
    home = Path(tempfile.mkdtemp(prefix="aq-bench-widgets-"))
    ws = aq.connect(home=home)
    started = time.perf_counter()
    ws.datasets.save(frame(rows), "big")
    ws.datasets.save(frame(1000, seed=1), "small")
    print(f"stored {rows:,} + 1,000 rows in {time.perf_counter() - started:.1f} s", flush=True)
    results = []
    openers: dict[str, Callable[[str], Any]] = {
        # what the user sees first: overview, quality summary, first page of rows (the full
        # profile fills in afterwards, in the background)
        "Explore": lambda ref: ExploreWizard(ref, ws),
    }
    try:
        from astralytiq_jupyter.widgets.clean import CleanWizard

        openers["Clean"] = lambda ref: CleanWizard(ref, ws=ws)
    except ImportError:  # pragma: no cover - before the Clean wizard landed
        pass
    for name, open_ in openers.items():
        small = timed(repeat, lambda o=open_: o("small"), recorder)
        big = timed(repeat, lambda o=open_: o("big"), recorder)
        results.append({"what": name, "small": small, "big": big})
        print(name, small, big, flush=True)
    # the full profile in the background, for the record (not part of "opening")
    for ref in ("small", "big"):
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
    args = parser.parse_args()
    load = _load()
    opened = bench_open(args.rows, args.repeat)
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
        "| wizard | 1,000 rows (s) | largest message | "
        f"{args.rows:,} rows (s) | largest message | time ratio | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in opened:
        if "what" not in r:
            continue
        (ts, ms), (tb, mb) = r["small"], r["big"]
        ratio = tb / ts
        ok = ratio <= 2 and max(ms, mb) <= 1_000_000
        lines.append(
            f"| {r['what']} | {ts:.3f} | {ms / 1000:.1f} kB | {tb:.3f} | {mb / 1000:.1f} kB | "
            f"{ratio:.2f}x | <= 2x, <= 1 MB | {'yes' if ok else 'no'} |"
        )
    profiles = {r["profile"]: r["seconds"] for r in opened if "profile" in r}
    lines += [
        "",
        "Opening means the call returns with the overview, the quality summary recorded at "
        "ingest and the first page of rows on screen; the full profile (exact statistics over "
        f"every row) then completes in the background: {profiles.get('small', 0):.2f} s for "
        f"1,000 rows, {profiles.get('big', 0):.1f} s for {args.rows:,}.",
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


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
