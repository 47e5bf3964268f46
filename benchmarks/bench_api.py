"""REST API speed: the predict endpoint versus ``mlflow models serve`` on the identical model,
and a 1,000,000-row dataset download through the RemoteBackend versus ``pandas.read_parquet``
of the stored file.

    python benchmarks/bench_api.py [--seconds 8] [--no-write]

MLflow lives in its own virtualenv (``benchmarks/.work/mlflow-venv``, created on first run) so
it never touches the product's environment. Both servers run as one process on this machine
with their defaults; the load comes from ``wrk`` (``apt-get install wrk``), a C load generator,
so that the client takes as little as possible of the two cores the servers share with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import WORK, machine_line, write_section  # noqa: E402

import astralytiq_jupyter as aq  # noqa: E402

SECTION = "## API"
MLFLOW_VENV = WORK / "mlflow-venv"
WRK = shutil.which("wrk") or "wrk"  # Debian: apt-get install wrk
TOKEN = "bench-token"  # noqa: S105 - a throwaway token for a loopback-only server

SAVE_FOR_MLFLOW = """
import sys, mlflow.sklearn, skops.io as sio
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
mlflow.sklearn.save_model(model, dst, skops_trusted_types=sio.get_untrusted_types(data=data))
"""


def median_ms(run: object, repeat: int = 30) -> float:
    """Median wall time of ``run()`` in milliseconds, after one warm-up call."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def tree_walk_times(model: RandomForestClassifier, X: pd.DataFrame, signature: list) -> dict:
    """The forest's 1,000-row prediction in-process, without HTTP: the compiled model as the
    server runs it (:class:`~astralytiq_jupyter.core.trees.TreeEnsemble`), ONNX Runtime on the
    same compiled file (its leaf indices alone, before any sum), and scikit-learn."""
    import onnx
    import onnxruntime as ort

    from astralytiq_jupyter.core import compiled

    output = {"kind": "classification", "classes": [0, 1]}
    data = compiled.compile_model(model, signature, output, X).data
    runtime = compiled.CompiledModel(data, signature)
    graph = onnx.load_model_from_string(data)
    for tensor in list(graph.graph.initializer):
        if tensor.name == compiled.LEAF_VALUES:
            graph.graph.initializer.remove(tensor)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(graph.SerializeToString(), options)
    matrix = X.to_numpy(dtype=np.float64)
    return {
        "ours": median_ms(lambda: runtime.run(matrix)),
        "onnxruntime": median_ms(lambda: session.run(None, {"X": matrix})),
        "sklearn": median_ms(lambda: model.predict_proba(X)),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_mlflow() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        import sklearn

        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "mlflow",
                f"scikit-learn=={sklearn.__version__}",
                "skops",
            ],
            check=True,
        )
    return python


def wait_http(url: str, headers: dict[str, str] | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


WRK_SCRIPT = """
wrk.method = "POST"
local f = io.open(os.getenv("AQ_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
for k, v in string.gmatch(os.getenv("AQ_HEADERS"), "([^\\n:]+): ([^\\n]+)") do
  wrk.headers[k] = v
end
done = function(summary, latency, requests)
  io.write(string.format("AQ %d %f %f %f %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def load(
    url: str, headers: dict[str, str], body: bytes, concurrency: int, seconds: float
) -> dict[str, float]:
    """Closed-loop load at ``concurrency`` for ``seconds`` with ``wrk`` (a C load generator,
    so that the client does not take the CPU the servers need): req/s and latency (ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        script, payload = Path(tmp) / "post.lua", Path(tmp) / "body"
        script.write_text(WRK_SCRIPT)
        payload.write_bytes(body)
        env = {
            **os.environ,
            "AQ_BODY": str(payload),
            "AQ_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        }
        command = [WRK, "-t1", f"-c{concurrency}", "-s", str(script), url]
        subprocess.run([*command, "-d1s"], env=env, capture_output=True, check=True)  # warm-up
        out = subprocess.run(
            [*command, f"-d{seconds:g}s", "--timeout", "30s"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("AQ "))
    requests_done, duration, p50, p99, errors = line.split()[1:]
    if int(errors):
        raise SystemExit(f"{url}: {errors} failed requests\n{out}")
    return {"rps": int(requests_done) / float(duration), "p50": float(p50), "p99": float(p99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the download case")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    mlflow_python = ensure_mlflow()
    tmp = Path(tempfile.mkdtemp(prefix="aq-bench-api-", dir=WORK))
    home = tmp / "home"
    X, y = make_classification(n_samples=20_000, n_features=20, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    models = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(frame, y),
        "forest200": RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(
            frame, y
        ),
    }
    signature = [{"name": c, "dtype": "float64"} for c in frame.columns]
    with aq.connect(home=home) as ws:
        for name, model in models.items():
            ws.models.register(
                name,
                model,
                task="classification",
                algorithm=name,
                signature=signature,
                output={"kind": "classification", "classes": [0, 1]},
                input_example=frame.sample(1000, random_state=0),
            )
        runtimes = {name: ws.models.get(name).runtime for name in models}
        walk = tree_walk_times(models["forest200"], frame.sample(1000, random_state=2), signature)
        print("tree walk, ms:", walk, flush=True)
        # A platform API token, as a caller outside Jupyter (a service, a CI job) uses.
        api_token = ws.backend.store.tokens.create(ws.me, "bench", role="analyst").secret
        big = pd.DataFrame(
            {
                **{f"x{i}": np.random.default_rng(i).normal(size=args.rows) for i in range(8)},
                "k": np.random.default_rng(9).integers(0, 1000, args.rows),
                "s": pd.Series(
                    np.random.default_rng(10).choice(["alpha", "beta", "gamma"], args.rows)
                ),
                "d": pd.date_range("2020-01-01", periods=args.rows, freq="min"),
                "b": np.random.default_rng(11).random(args.rows) > 0.5,
            }
        )
        stored = ws.datasets.save(big, "big")
        stored_path = ws.backend.store.storage.path(
            ws.backend.store.datasets.storage_key(ws.me, stored.ref)
        )

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.open_browser=False",
            "--allow-root",
            f"--ServerApp.root_dir={tmp}",
            f"--AstralytiQ.home={home}",
            "--ServerApp.log_level=WARN",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}/astralytiq/api"
    auth = {"Authorization": f"Bearer {api_token}"}
    rows: list[str] = []
    results: dict[tuple[str, str, int, int], dict[str, float]] = {}
    try:
        wait_http(f"{base}/health", auth)
        rng = np.random.default_rng(1)
        for name, model in models.items():
            src = tmp / f"{name}.skops"
            src.write_bytes(sio.dumps(model))
            dst = tmp / f"mlflow-{name}"
            subprocess.run(
                [str(mlflow_python), "-c", SAVE_FOR_MLFLOW, str(src), str(dst)], check=True
            )
            mport = free_port()
            mlflow = subprocess.Popen(
                [
                    str(mlflow_python),
                    "-m",
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    str(dst),
                    "-p",
                    str(mport),
                    "-h",
                    "127.0.0.1",
                    "--env-manager",
                    "local",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # mlflow execs `uvicorn` by name: its venv's bin must come first on PATH.
                env={**os.environ, "PATH": f"{mlflow_python.parent}:{os.environ['PATH']}"},
            )
            try:
                wait_http(f"http://127.0.0.1:{mport}/ping")
                for batch in (1, 1000):
                    records = frame.iloc[rng.choice(len(frame), batch)].to_dict(orient="records")
                    ours = json.dumps({"records": records}).encode()
                    theirs = json.dumps({"dataframe_records": records}).encode()
                    check_ours = requests.post(
                        f"{base}/models/{name}/predict", data=ours, headers=auth
                    ).json()
                    check_theirs = requests.post(
                        f"http://127.0.0.1:{mport}/invocations",
                        data=theirs,
                        headers={"Content-Type": "application/json"},
                    ).json()
                    assert [r["prediction"] for r in check_ours["predictions"]] == check_theirs[
                        "predictions"
                    ]
                    for concurrency in (1, 8):
                        # Rounds alternate between the servers so that a slow spell of
                        # this shared machine hits both; each figure is the median round.
                        rounds: dict[str, list[dict[str, float]]] = {"ours": [], "mlflow": []}
                        for _ in range(args.rounds):
                            rounds["ours"].append(
                                load(
                                    f"{base}/models/{name}/predict",
                                    {**auth, "Content-Type": "application/json"},
                                    ours,
                                    concurrency,
                                    args.seconds,
                                )
                            )
                            rounds["mlflow"].append(
                                load(
                                    f"http://127.0.0.1:{mport}/invocations",
                                    {"Content-Type": "application/json"},
                                    theirs,
                                    concurrency,
                                    args.seconds,
                                )
                            )
                        for side, measured in rounds.items():
                            results[(side, name, batch, concurrency)] = {
                                key: statistics.median(r[key] for r in measured)
                                for key in ("rps", "p50", "p99")
                            }
                        a, b = (
                            results[("ours", name, batch, concurrency)],
                            results[("mlflow", name, batch, concurrency)],
                        )
                        cells = [
                            name,
                            batch,
                            concurrency,
                            f"{a['rps']:.0f}",
                            f"{b['rps']:.0f}",
                            f"**{a['rps'] / b['rps']:.2f}x**",
                            f"{a['p50']:.1f} / {a['p99']:.1f}",
                            f"{b['p50']:.1f} / {b['p99']:.1f}",
                            f"**{a['p99'] / b['p99']:.2f}x**",
                        ]
                        rows.append("| " + " | ".join(map(str, cells)) + " |")
                        print(rows[-1], flush=True)
            finally:
                mlflow.terminate()
                mlflow.wait(30)

        remote = aq.connect(url=f"http://127.0.0.1:{port}", token=TOKEN)
        download, baseline = [], []
        for _ in range(5):
            start = time.perf_counter()
            got = remote.datasets.load("big")
            download.append(time.perf_counter() - start)
            start = time.perf_counter()
            ref = pd.read_parquet(stored_path)
            baseline.append(time.perf_counter() - start)
        assert len(got) == len(ref) == args.rows
    finally:
        server.terminate()
        server.wait(30)

    down, floor = min(download), min(baseline)
    cells = [k for k in results if k[0] == "ours"]
    met_rps = sum(results[k]["rps"] >= 2 * results[("mlflow", *k[1:])]["rps"] for k in cells)
    met_p99 = sum(results[k]["p99"] <= 0.5 * results[("mlflow", *k[1:])]["p99"] for k in cells)
    body = "\n".join(
        [
            SECTION,
            "",
            machine_line(),
            "",
            "`python benchmarks/bench_api.py`: predict through "
            "`POST /astralytiq/api/models/{ref}/predict` (JSON records in, JSON predictions and "
            "class probabilities out, platform API token (`Authorization: Bearer`), tenant and "
            "role checked per request; served by the compiled runtime: "
            + ", ".join(f"{k} {v}" for k, v in runtimes.items())
            + ") versus "
            "`mlflow models serve --env-manager local` (`/invocations`, JSON `dataframe_records`, "
            "predictions only) on the identical fitted scikit-learn object, 20 float features; "
            "each server one process; load from `wrk` (one thread, closed loop, keep-alive): per "
            f"cell {args.rounds} rounds of {args.seconds:g} s (after a 1 s warm-up each), "
            "alternating between the servers; figures are the median round. "
            "Targets: throughput ≥ 2x MLflow, p99 ≤ 0.5x MLflow.",
            "",
            "| model | rows/request | concurrency | ours req/s | MLflow req/s | throughput ratio "
            "| ours p50 / p99 ms | MLflow p50 / p99 ms | p99 ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Throughput target met in {met_rps} of {len(cells)} cells, p99 target in {met_p99} "
            f"of {len(cells)}.",
            "",
            "- Why: registration compiles each model to ONNX and verifies it against "
            "scikit-learn; a request of plain numbers goes from JSON to a float64 matrix to ONNX "
            "Runtime without a DataFrame, on the event loop when small; platform tokens and "
            "model refs are resolved from short-lived caches; large batches queue for one "
            "worker while the model uses every core; the objects alive at start are frozen "
            "out of the garbage collector (full collections took 100-300 ms). MLflow runs "
            "scikit-learn behind pandas schema enforcement, one request at a time.",
            "- The 200-tree forest's trees (532,554 nodes) are walked by a numba-compiled "
            "kernel over a depth-first layout of 12-byte nodes, one tree at a time for all "
            "rows of the request, split over both cores, adding the leaves' float64 values in "
            "scikit-learn's order (equal to the bit). In-process, 1,000 rows, same run: "
            f"**{walk['ours']:.1f} ms**, against {walk['onnxruntime']:.1f} ms for ONNX "
            f"Runtime's tree ensemble on the same compiled file (leaf indices only, both "
            f"cores) and {walk['sklearn']:.1f} ms for scikit-learn's `predict_proba` (one "
            f"core): {walk['sklearn'] / walk['ours']:.1f}x faster than scikit-learn.",
            "- Load generator: `wrk` (Debian package `wrk`), so that the client takes little of "
            "the two cores the servers need.",
            "",
            f"Download of {args.rows:,} rows × {big.shape[1]} columns through the RemoteBackend "
            f"(`aq.connect(url=...).datasets.load`, Parquet over HTTP): **{down:.2f} s** versus "
            f"`pandas.read_parquet` of the stored file: {floor:.2f} s, "
            f"ratio **{down / floor:.2f}x** (target ≤ 1.5x; best of 5, alternating). The "
            "server sends the stored file with `sendfile(2)`; the client reads it into one "
            "Arrow buffer and decodes it as `read_parquet` does, so the difference is the "
            "transfer.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
