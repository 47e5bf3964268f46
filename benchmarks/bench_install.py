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
import resource
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


def import_seconds(cases: list[tuple[Path, str | None]], runs: int) -> list[tuple[float, float]]:
    """Median wall and CPU (user + system) seconds of a fresh interpreter importing the
    package, per ``(venv, PYTHONPATH)`` case. The cases take turns run after run, so that they
    meet the same machine load, after one untimed run each (warm file caches); CPU time is
    the steadier of the two on a shared machine."""
    commands = []
    for venv, pythonpath in cases:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        commands.append(([str(venv / "bin" / "python"), "-c", "import astralytiq_jupyter"], env))
    wall: list[list[float]] = [[] for _ in cases]
    cpu: list[list[float]] = [[] for _ in cases]
    for round_ in range(runs + 1):
        for i, (cmd, env) in enumerate(commands):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, cwd=tempfile.gettempdir())
            took = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_:
                wall[i].append(took)
                cpu[i].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(wall, cpu, strict=True)]


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
        seconds = import_seconds([(venv, pythonpath) for _, venv, pythonpath in rows], args.runs)
        print("| environment | venv (MB) | `import astralytiq_jupyter`: wall (s) | CPU (s) |")
        print("| --- | ---: | ---: | ---: |")
        for (label, venv, _), (took, cpu) in zip(rows, seconds, strict=True):
            print(f"| {label} | {size_mb(venv):,.0f} | {took:.3f} | {cpu:.3f} |")
        extra = sorted(distributions(serving) - distributions(base))
        print(
            f"\nThe extra adds {size_mb(serving) - size_mb(base):,.0f} MB in "
            f"{len(extra)} distributions: {', '.join(extra)}."
        )


if __name__ == "__main__":
    main()
