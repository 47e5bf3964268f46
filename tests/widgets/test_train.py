"""The Train wizard driven as a person would (set values, click) on both backends: train,
watch the leaderboard, look at the chosen model, register it with an alias; cancel mid-way
and find nothing registered; a viewer gets no train or register action."""

from __future__ import annotations

import pytest

from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.widgets.train import NO_TARGET, TrainWizard

from ..server_extension.live import WorkspaceFactory
from .customers import customers


@pytest.fixture
def make(both: WorkspaceFactory) -> WorkspaceFactory:
    return both


def _opened(ws, ref: str = "customers") -> TrainWizard:
    wizard = TrainWizard(ws, ref, header=False)
    wizard.wait()
    assert wizard.runner.current.error is None
    return wizard


def _quick(wizard: TrainWizard, target: str, algorithms: tuple[str, ...]) -> None:
    wizard.target.value = target
    wizard.compare_all.value = False
    wizard.algorithms.value = algorithms
    wizard.folds.value = 2


def test_train_leaderboard_register_and_alias(make: WorkspaceFactory) -> None:
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    # the form is ready at once: a target chosen, the task detected and shown, all features
    assert wizard.target.value == "churn"
    assert wizard.effective_task == "classification" and "detected" in wizard.task_badge.value
    assert set(wizard.features.value) == {"tenure", "region", "support_calls", "signup", "spend"}
    assert "random_forest" in wizard.algorithms.options  # the engine's catalogue
    assert wizard.metric.options[0] == ("balanced_accuracy (default)", "")
    # the defaults are shown as chosen (a Dropdown shows a value of None as a blank box)
    assert wizard.metric.label == "balanced_accuracy (default)" and wizard.tune.label == "off"
    assert "metric" not in wizard.options() and "tune" not in wizard.options()
    wizard.target.value = "spend"
    assert wizard.effective_task == "regression"
    assert wizard.metric.options[0][0] == "r2 (default)"

    _quick(wizard, "churn", ("logistic_regression", "random_forest"))
    wizard.metric.value = "f1"
    assert wizard.options() == {
        "target": "churn",
        "task": "classification",
        "algorithms": ["logistic_regression", "random_forest"],
        "metric": "f1",
        "cv_folds": 2,
    }
    wizard.start.click()
    wizard.wait()
    result = wizard.result
    assert result is not None and wizard.runner.current.error is None
    assert result.spec.dataset == "customers@1" and result.primary_metric == "f1"
    # the live board saw both models finish, ranked by the chosen metric
    assert sorted(wizard.board.finished_labels) == ["logistic_regression", "random_forest"]
    assert "Ranked by <b>f1</b>" in wizard.board.heading.value
    assert "Ranked by <b>f1</b>" in wizard.leaderboard.value
    assert "logistic_regression" in wizard.leaderboard.value
    assert "random_forest" in wizard.leaderboard.value
    # the chosen model's page: holdout metrics, plots of the engine, notes
    assert wizard.choose.value == result.best_algorithm and wizard.shown is result
    assert {"confusion_matrix", "roc", "precision_recall", "feature_importance"} <= set(
        wizard.page.outputs
    )
    for output in wizard.page.outputs.values():
        assert "application/vnd.plotly.v1+json" in output.outputs[0]["data"]
    assert "f1" in wizard.page.cards.value
    assert "ws.train('customers', target='churn'" in wizard.code.code

    wizard.page.name.value = "churn"
    wizard.page.alias.value = "production"
    wizard.page.register_button.click()
    wizard.wait()
    assert wizard.status.kind == "ok" and "Registered churn@1" in wizard.status.text
    version = ws.models.get("churn@production")
    assert (version.version, version.algorithm, version.dataset) == (
        1,
        result.best_algorithm,
        "customers@1",
    )
    assert version.metrics["primary"] == "f1"
    assert "set_alias('churn', 'production', version.version)" in wizard.code.code


def test_another_row_is_evaluated_then_registered(make: WorkspaceFactory) -> None:
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    _quick(wizard, "spend", ("linear_regression", "knn"))
    wizard.start.click()
    wizard.wait()
    other = next(label for label in wizard.choose.options if label != wizard.choose.value)
    wizard.choose.value = other
    assert wizard.shown is None and wizard.page.register_box.layout.display == "none"
    wizard.evaluate.click()
    wizard.wait()
    assert wizard.shown is not None and wizard.shown.best_algorithm == other
    assert {"residuals", "predicted_vs_actual"} <= set(wizard.page.outputs)
    # the same holdout rows as the run it came from
    assert wizard.shown.n_rows == wizard.result.n_rows
    wizard.page.name.value = "spend"
    wizard.page.register_button.click()
    wizard.wait()
    assert ws.models.get("spend").algorithm == other


def test_register_is_clickable_only_once_the_models_page_is_complete(
    make: WorkspaceFactory,
) -> None:
    """Register stays disabled from the start of training until the trained model's page has
    its leaderboard, metrics and every plot: each time it becomes clickable, the page is
    complete (the task runner frees its controls before the page is drawn)."""
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    page = wizard.page
    assert page.register_button.disabled  # no model yet
    _quick(wizard, "churn", ("logistic_regression",))
    seen: list[tuple[bool, bool]] = []

    def complete() -> bool:
        return (
            wizard.shown is not None
            and "logistic_regression" in wizard.leaderboard.value
            and {"confusion_matrix", "roc"} <= set(page.outputs)
            and all(o.outputs for o in page.outputs.values())
            and "balanced_accuracy" in page.cards.value
        )

    page.register_button.observe(
        lambda change: seen.append((change["new"], complete())), names="disabled"
    )
    wizard.start.click()
    wizard.wait()
    assert seen and seen[-1] == (False, True)
    assert all(ready for disabled, ready in seen if not disabled), seen
    # Trained again: disabled at once, clickable again only with the new page.
    seen.clear()
    wizard.start.click()
    assert seen[0][0] is True  # disabled before the old page goes
    wizard.wait()
    assert seen[-1] == (False, True) and all(ready for d, ready in seen if not d), seen
    page.register_button.click()  # disabled while registering, then clickable again
    wizard.wait()
    assert "Registered" in wizard.status.text and not page.register_button.disabled


def test_cancel_mid_way_stops_and_registers_nothing(make: WorkspaceFactory) -> None:
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    _quick(wizard, "churn", ("logistic_regression", "random_forest", "extra_trees"))
    wizard.folds.value = 3
    folds_seen: list[str] = []

    def cancel_after_first_fold(change: dict) -> None:
        # Runs in the training thread inside the engine's progress callback: the engine
        # checks the cancel flag right after it, so exactly one fold has finished.
        if "1/3" in change["new"] and not folds_seen:
            folds_seen.append(change["new"])
            wizard.runner.cancel_button.click()

    wizard.board.table.observe(cancel_after_first_fold, names="value")
    wizard.start.click()
    wizard.wait()
    assert folds_seen, "training never reported a fold"
    assert "cancelled" in wizard.status.text.lower()
    assert wizard.result is None and wizard.results.layout.display == "none"
    assert wizard.board.finished_labels == []  # no model got past its first fold
    assert ws.models.list() == []
    assert not wizard.start.disabled  # the form is usable again
    wizard.board.table.unobserve(cancel_after_first_fold, names="value")
    wizard.page.register()  # nothing to register
    assert ws.models.list() == []


def test_cancel_clicked_on_the_main_thread_while_training_runs(make: WorkspaceFactory) -> None:
    """The kernel's main thread stays free while training runs in the background: a Cancel
    clicked there (as the browser's comm message would be handled) stops the run."""
    import threading

    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    _quick(wizard, "churn", ("logistic_regression", "random_forest"))
    first_fold, clicked = threading.Event(), threading.Event()

    def hold_until_clicked(change: dict) -> None:
        if "1/2" in change["new"] and not first_fold.is_set():
            first_fold.set()
            clicked.wait(30)  # the training thread waits for the main thread's click

    wizard.board.table.observe(hold_until_clicked, names="value")
    task = wizard.train()
    assert first_fold.wait(60) and task.running and wizard.runner.busy
    wizard.runner.cancel_button.click()  # from the main thread, mid-training
    clicked.set()
    task.wait(60)
    wizard.board.table.unobserve(hold_until_clicked, names="value")
    assert "cancelled" in wizard.status.text.lower() and wizard.result is None
    assert ws.models.list() == []


def test_viewer_sees_no_train_or_register_action(make: WorkspaceFactory) -> None:
    make("alice", Role.ANALYST).datasets.save(customers(), "customers")
    viewer = make("vera", Role.VIEWER)
    wizard = _opened(viewer)
    assert wizard.start.layout.display == "none"
    assert "viewer" in wizard.role_note.value and "not train" in wizard.role_note.value
    assert wizard.page.register_button not in wizard.page.register_box.children
    assert wizard.page.register_button.disabled
    assert wizard.train() is None and "cannot train" in wizard.status.text
    assert viewer.models.list() == []


def test_bad_choices_are_refused_in_plain_words(make: WorkspaceFactory) -> None:
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    wizard.compare_all.value = False
    wizard.algorithms.value = ()
    assert wizard.train() is None and "Choose at least one algorithm" in wizard.status.text
    wizard.compare_all.value = True
    wizard.features.value = ()
    assert wizard.train() is None and "at least one feature" in wizard.status.text
    wizard.all_features.click()
    _quick(wizard, "churn", ("logistic_regression",))
    wizard.start.click()
    wizard.wait()
    wizard.page.name.value = "churn"
    wizard.page.alias.value = "not an alias!"
    wizard.page.register_button.click()
    wizard.wait()
    assert wizard.status.kind == "error"
    assert ws.models.list() == []  # a bad alias stores no half-registered model


def test_clustering_and_forecasting_forms(make: WorkspaceFactory) -> None:
    if make.kind == "remote":
        pytest.skip("the task forms are backend-independent; the flows above cover remote")
    ws = make("alice", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    wizard = _opened(ws)
    wizard.target.value = NO_TARGET
    assert wizard.effective_task == "clustering"
    assert wizard.cluster_box.layout.display is None and wizard.tune.layout.display == "none"
    wizard.k_range.value = (2, 4)
    wizard.folds.value = 2
    assert ("elbow", "elbow") in wizard.k_rule.options  # the engine's rules
    assert wizard.k_rule.layout.display is None
    wizard.k_rule.value = "elbow"
    assert wizard.options()["k_range"] == (2, 4) and "target" not in wizard.options()
    assert wizard.options()["k_rule"] == "elbow"
    wizard.start.click()
    wizard.wait()
    assert wizard.result.task == "clustering" and wizard.result.selection["rule"] == "elbow"
    assert "elbow" in wizard.page.outputs and "by elbow" in wizard.page.selection.value
    assert any(label.startswith("kmeans (k=") for label in wizard.choose.options)

    wizard.target.value = "spend"
    wizard.task.value = "forecasting"
    assert "your choice" in wizard.task_badge.value
    assert wizard.date_column.value == "signup"
    assert wizard.feature_box.layout.display == "none"
    wizard.compare_all.value = False
    wizard.algorithms.value = ("seasonal_naive",)
    wizard.horizon.value = 14
    wizard.folds.value = 2
    options = wizard.options()
    assert (options["task"], options["date_column"], options["horizon"]) == (
        "forecasting",
        "signup",
        14,
    )
    wizard.start.click()
    wizard.wait()
    assert wizard.result.task == "forecasting" and "forecast" in wizard.page.outputs


def test_empty_tenant_says_what_to_do(make: WorkspaceFactory) -> None:
    if make.kind == "remote":
        pytest.skip("backend-independent")
    ws = make("alice", Role.ANALYST)
    wizard = _opened(ws, None)
    assert wizard.empty.layout.display is None and wizard.setup.layout.display == "none"
    assert "upload a file" in wizard.empty.children[0].value
    ws.datasets.save(customers(), "customers")
    wizard.picker.refresh()
    assert wizard.empty.layout.display == "none" and wizard.setup.layout.display is None
    assert wizard.target.value == "churn"


def test_wizards_open_from_the_package() -> None:
    import astralytiq_jupyter as aq
    from astralytiq_jupyter.widgets.predict import PredictWizard

    assert aq.TrainWizard is TrainWizard and aq.PredictWizard is PredictWizard
    with pytest.raises(AttributeError):
        aq.NoSuchWizard  # noqa: B018


def test_app_opens_train_and_leads_on_to_predict(make: WorkspaceFactory) -> None:
    if make.kind == "remote":
        pytest.skip("the app's sections are backend-independent")
    from astralytiq_jupyter.widgets.app import App
    from astralytiq_jupyter.widgets.predict import PredictWizard

    ws = make("ann", Role.ANALYST)
    ws.datasets.save(customers(), "customers")
    app = App(ws, background=False)
    train = app.show("train", ref="customers@1")
    assert isinstance(train, TrainWizard) and train.picker.ref == "customers@1"
    _quick(train, "churn", ("logistic_regression",))
    train.start.click()
    train.page.name.value = "churn"
    train.page.register_button.click()
    (label, _button), *_ = [(b.description, b) for b in train.status.actions.children]
    assert label == "Open in Predict"
    train.status.actions.children[0].click()
    predict = app.views["predict"]
    assert app.current == "predict" and isinstance(predict, PredictWizard)
    assert predict.picker.ref == "churn@1" and set(predict.form.fields) == set(train.shown.features)
    viewer = App(make("vic", Role.VIEWER), background=False)
    assert "train" not in viewer.buttons and "predict" in viewer.buttons
