"""Shared by every benchmark: the machine line and replacing one section of RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
WORK = HERE / ".work"


def machine_line() -> str:
    """CPU, memory, Python and key library versions, and today's date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram = f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
    except (ValueError, OSError):
        ram = "unknown"
    import numpy
    import pandas
    import pyarrow
    import sklearn

    return (
        f"Machine: {os.cpu_count()} CPUs (nproc), {ram} RAM, {cpu}; Python "
        f"{platform.python_version()}, pandas {pandas.__version__}, numpy {numpy.__version__}, "
        f"pyarrow {pyarrow.__version__}, scikit-learn {sklearn.__version__}; "
        f"{dt.date.today().isoformat()}."
    )


def write_section(section: str, body: str) -> None:
    """Replace (or append) the ``## section`` of RESULTS.md, leaving the others as they are.

    ``body`` starts with the section's own heading line.
    """
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        new = "\n".join(lines[:start] + body.rstrip("\n").splitlines() + [""] + lines[end:])
        new = new.rstrip("\n") + "\n"
    RESULTS.write_text(new)
