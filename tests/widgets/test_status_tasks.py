import threading

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.widgets.status import StatusArea, describe_error
from astralytiq_jupyter.widgets.tasks import TaskRunner


def test_errors_are_plain_words_without_tracebacks():
    message, details = describe_error(Invalid("The file is empty.", column="x"))
    assert message == "The file is empty."
    assert "invalid" in details and "column" in details
    message, details = describe_error(KeyError("boom"))
    assert message.startswith("Something went wrong")
    assert "Traceback" not in message + details


def test_status_area_states():
    status = StatusArea()
    status.busy("Reading", 0.5)
    assert status.bar.layout.display is None and status.bar.value == 0.5
    status.done("Saved sales@2", actions=[("Open", lambda: None)])
    assert status.kind == "ok" and "Saved sales@2" in status.text
    assert len(status.actions.children) == 1
    status.fail(Invalid("No such column 'x'."))
    assert status.kind == "error" and "No such column" in status.text
    status.clear()
    assert status.text == ""


def test_runner_runs_in_background_reports_and_cancels():
    status = StatusArea()
    runner = TaskRunner(status)
    started, release = threading.Event(), threading.Event()
    seen = []

    def work(progress):
        progress("Working", 0.0)
        started.set()
        release.wait(5)
        progress.check()
        return 42

    task = runner.run("Long work", work, seen.append, cancellable=True)
    assert started.wait(5)
    assert runner.busy and runner.cancel_button.layout.display is None
    # a second task is refused while the first runs
    assert runner.run("Other", lambda p: 1).result is None
    runner.cancel()
    release.set()
    task.wait(5)
    assert seen == [] and "cancelled" in status.text
    assert runner.cancel_button.layout.display == "none"

    done = runner.run("Quick", lambda p: 7, seen.append)
    done.wait(5)
    assert seen == [7] and done.error is None


def test_runner_shows_errors_and_restores_controls():
    import ipywidgets as W

    status = StatusArea()
    runner = TaskRunner(status)
    button = W.Button()

    def fail(progress):
        assert button.disabled
        raise Invalid("The target column 'y' does not exist.")

    task = runner.run("Training", fail, controls=[button])
    task.wait(5)
    assert isinstance(task.error, Invalid)
    assert not button.disabled
    assert status.kind == "error" and "target column" in status.text
