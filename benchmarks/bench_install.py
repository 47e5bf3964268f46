"""What the ``serving`` extra costs a user: the size of a fresh virtual environment with
``pip install .`` against ``pip install ".[serving]"``, and the wall time of
``python -c "import astralytiq_jupyter"`` in each (median of several runs).

Before compiled serving became an extra, its packages were required, so the environment with
the extra is also the size of a base install before; ``--before SRC`` (a source tree of the
earlier release, e.g. ``git archive`` of it) also times that tree's import in the environment
with the extra, which has the dependencies it required.

    python benchmarks/bench_install.py [--base VENV --serving VENV] [--before SRC] [--runs 9]

Without ``--base``/``--serving`` both environments are created in a temporary directory (a few
minutes; needs the package index).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_venv(path: Path, target: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", target], check=True)
    return path


def size_mb(path: Path) -> float:
    """Bytes of the files under ``path`` (links not followed), in MB (10**6)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 1e6


def distributions(venv: Path) -> set[str]:
    """The names of the distributions installed in ``venv``."""
    listed = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}


def import_seconds(venv: Path, runs: int, pythonpath: str | None = None) -> float:
    """Median wall time of a fresh interpreter importing the package (caches warm: one run
    first is discarded)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [str(venv / "bin" / "python"), "-c", "import astralytiq_jupyter"]
    subprocess.run(cmd, check=True, env=env, cwd=tempfile.gettempdir())
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="a venv with `pip install .`")
    parser.add_argument("--serving", type=Path, help='a venv with `pip install ".[serving]"`')
    parser.add_argument("--before", help="source tree of the release before the extra")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base or make_venv(Path(tmp, "base"), str(REPO))
        serving = args.serving or make_venv(Path(tmp, "serving"), f"{REPO}[serving]")
        rows = [
            ("base: `pip install .`", base, None),
            ('with the extra: `pip install ".[serving]"`', serving, None),
        ]
        if args.before:
            rows.append(
                ("before (required runtime), same packages as the extra", serving, args.before)
            )
        print("| environment | venv (MB) | `import astralytiq_jupyter` (s, median) |")
        print("| --- | ---: | ---: |")
        for label, venv, pythonpath in rows:
            seconds = import_seconds(venv, args.runs, pythonpath)
            print(f"| {label} | {size_mb(venv):,.0f} | {seconds:.3f} |")
        extra = sorted(distributions(serving) - distributions(base))
        print(
            f"\nThe extra adds {size_mb(serving) - size_mb(base):,.0f} MB in "
            f"{len(extra)} distributions: {', '.join(extra)}."
        )


if __name__ == "__main__":
    main()
