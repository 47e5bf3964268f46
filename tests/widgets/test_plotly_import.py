"""Plotly is imported once, under a lock, whichever threads ask for it first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter (plotly not imported yet): threads released at the same moment each
# open a figure through the widgets' helpers, as Explore's background thread and the kernel's
# thread did when Python's import deadlock detection broke one of them.
_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    assert "plotly" not in sys.modules
    from astralytiq_jupyter.widgets.plotly_import import figures, plotly
    from astralytiq_jupyter.widgets.theme import Theme

    plotly()  # the whole import chain completes here, including what plotly loads lazily
    lazy = ("plotly.basedatatypes", "narwhals.stable.v1", "narwhals.stable.v2")
    assert all(m in sys.modules for m in lazy), [m for m in lazy if m not in sys.modules]
    start, results, errors = threading.Barrier(4), [], []

    def draw(i):
        start.wait()
        try:
            if i % 2:
                go, pio = plotly()
                fig = go.Figure(go.Bar(x=["a", "b"], y=[1, i]))
                results.append(len(pio.to_json(fig)))
            else:
                fig = figures().scatter(
                    [1.0, 2.0], [3.0, float(i)], x_title="x", y_title="y", total=2, theme=Theme()
                )
                results.append(len(fig.to_json()))
        except BaseException as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(results), errors, all(n > 100 for n in results))
    """
)


def test_threads_opening_figures_at_once_import_plotly_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "4 [] True", done.stdout + done.stderr
