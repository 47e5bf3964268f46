"""The model registry on a real store: versions, aliases and their history, lineage,
artifact integrity, trusted types, prediction and batch scoring."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from astralytiq_jupyter.core.errors import Forbidden, Invalid, NotFound, QuotaExceeded
from astralytiq_jupyter.core.permissions import Role

from ..conftest import principal_for


@pytest.fixture(scope="module")
def iris():
    frame = load_iris(as_frame=True).frame.rename(
        columns=lambda c: c.replace(" (cm)", "").replace(" ", "_")
    )
    features = [c for c in frame.columns if c != "target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        frame[features], frame["target"]
    )
    signature = [{"name": c, "dtype": "float64"} for c in features]
    return frame, features, model, signature


def register(store, principal, iris, name="iris", **kw):
    frame, features, model, signature = iris
    return store.models.register(
        principal,
        name,
        model,
        task="classification",
        algorithm="logistic_regression",
        signature=signature,
        output={"classes": [0, 1, 2]},
        metrics={"accuracy": 0.97},
        **kw,
    )


@pytest.fixture
def admin(store):
    return principal_for(store, "acme", "ann", Role.ADMIN)


def test_register_versions_and_predict(store, admin, iris):
    frame, features, model, _ = iris
    v1 = register(store, admin, iris)
    v2 = register(store, admin, iris, note="retrained")
    assert (v1.version, v2.version) == (1, 2) and v2.note == "retrained"
    assert len(v1.sha256) == 64 and v1.size_bytes > 0
    assert [v.version for v in store.models.versions(admin, "iris")] == [1, 2]
    (summary,) = store.models.list(admin)
    assert summary.name == "iris" and summary.versions == 2 and summary.latest.version == 2
    out = store.models.predict(admin, "iris@1", frame[features].head(20))
    assert out["prediction"].tolist() == model.predict(frame[features].head(20)).tolist()
    assert {"proba_0", "proba_1", "proba_2"} <= set(out.columns)


def test_numbers_and_files_of_deleted_versions_are_never_given_again(store, admin, iris):
    from astralytiq_jupyter.core.models import ModelVersionRecord

    keys = set()

    def new_version() -> int:
        number = register(store, admin, iris).version
        with store.session() as s:
            row = s.query(ModelVersionRecord).filter_by(version=number).one()
            keys.update({row.storage_key, row.compiled_key})
        return number

    assert [new_version(), new_version()] == [1, 2]
    store.models.delete(admin, "iris", 2)
    assert new_version() == 3
    store.models.delete(admin, "iris")
    assert new_version() == 4
    assert len(keys) == 8 and None not in keys
    assert [v.version for v in store.models.versions(admin, "iris")] == [4]


def test_aliases_move_with_history(store, admin, iris):
    register(store, admin, iris)
    register(store, admin, iris)
    assert store.models.set_alias(admin, "iris", "production", 1).aliases == ["production"]
    store.models.set_alias(admin, "iris", "staging", 2)
    assert store.models.get(admin, "iris@production").version == 1
    store.models.set_alias(admin, "iris", "production", 2)
    assert store.models.get(admin, "iris@production").version == 2
    assert sorted(store.models.get(admin, "iris@2").aliases) == ["production", "staging"]
    store.models.remove_alias(admin, "iris", "staging")
    with pytest.raises(NotFound):
        store.models.get(admin, "iris@staging")
    history = [
        (m.alias, m.from_version, m.to_version) for m in store.models.alias_history(admin, "iris")
    ]
    assert history == [
        ("production", None, 1),
        ("staging", None, 2),
        ("production", 1, 2),
        ("staging", 2, None),
    ]
    assert store.models.list(admin)[0].aliases == {"production": 2}
    with pytest.raises(NotFound):
        store.models.set_alias(admin, "iris", "production", 9)
    with pytest.raises(Invalid):
        store.models.set_alias(admin, "iris", "../x", 1)


def test_lineage_to_dataset_version(store, admin, iris):
    frame, features, _, _ = iris
    ws_ds = store.datasets.save(admin, frame, "iris-data")
    v = register(store, admin, iris, dataset=ws_ds.ref, recipe=[{"op": "drop_duplicates"}])
    assert v.dataset == "iris-data@1" and v.recipe == [{"op": "drop_duplicates"}]
    with pytest.raises(NotFound):
        register(store, admin, iris, name="other", dataset="nope@1")
    assert [m.name for m in store.models.list(admin)] == ["iris"]


def test_batch_scoring_saves_predictions_with_lineage(store, admin, iris):
    frame, features, model, _ = iris
    store.datasets.save(admin, frame[features], "iris-x")
    register(store, admin, iris)
    store.models.set_alias(admin, "iris", "production", 1)
    scored = store.models.score_dataset(admin, "iris@production", "iris-x", "iris-scored")
    assert scored.parent == "iris-x@1" and scored.model == "iris@1"
    df = store.datasets.load(admin, scored.ref)
    assert df["prediction"].tolist() == model.predict(frame[features]).tolist()


def test_columns_a_model_wrote_are_recorded_along_the_lineage(store, admin, iris):
    """Scoring records the columns it wrote; versions derived from it keep the record for the
    columns still there; a plain save knows nothing of them."""
    frame, features, _, _ = iris
    store.datasets.save(admin, frame, "iris-data")
    register(store, admin, iris)
    scored = store.models.score_dataset(admin, "iris@1", "iris-data", "iris-data")
    written = {c: "iris@1" for c in ("prediction", "proba_0", "proba_1", "proba_2")}
    assert scored.ref == "iris-data@2" and scored.model_columns == written
    assert store.datasets.get(admin, "iris-data@2").to_dict()["model_columns"] == written
    assert store.datasets.get(admin, "iris-data@1").model_columns == {}
    steps = [
        {"op": "drop_columns", "columns": ["proba_0"]},
        {"op": "filter_rows", "conditions": [{"column": "target", "op": ">", "value": 0}]},
    ]
    derived = store.recipes.apply(admin, steps, scored.ref, save_as="iris-kept")
    assert derived.model_columns == {c: m for c, m in written.items() if c != "proba_0"}
    loaded = store.datasets.load(admin, derived.ref)
    assert store.datasets.save(admin, loaded, "copied").model_columns == {}


def _card(**changes) -> dict:
    card = {
        "task": "classification",
        "best_algorithm": "logistic_regression",
        "primary_metric": "balanced_accuracy",
        "selection": {"metric": "balanced_accuracy"},
        "leaderboard": [{"rank": 1, "algorithm": "logistic_regression"}],
        "holdout_metrics": {"accuracy": 0.97},
        "cv_metrics": {"accuracy": 0.95},
        "plots": {"confusion_matrix": {"kind": "confusion_matrix", "z": [[10, 0], [1, 9]]}},
        "notes": ["Models ranked by balanced_accuracy."],
        "dropped_columns": [],
        "training_spec": {"target": "target"},
        "n_rows": {"train": 120, "holdout": 30},
    }
    return {**card, **changes}


def test_model_cards_are_checked_and_bounded(store, admin, iris):
    """A card is stored with its version (and listings leave it out); one too large loses its
    largest plots, named; a malformed one is refused and nothing is stored."""
    from astralytiq_jupyter.core.artifacts import dump_model
    from astralytiq_jupyter.core.model_card import MAX_CARD_BYTES

    v1 = register(store, admin, iris, card=_card())
    assert v1.card.holdout_metrics == {"accuracy": 0.97} and v1.card.omitted_plots == []
    assert store.models.get(admin, "iris@1").card == v1.card
    assert store.models.versions(admin, "iris")[0].card is None
    huge = {"kind": "residuals", "x": [0.123456789] * (MAX_CARD_BYTES // 10)}
    plots = {**_card()["plots"], "residuals": huge}
    v2 = register(store, admin, iris, card=_card(plots=plots))
    stored = store.models.get(admin, v2.ref).card
    assert stored.omitted_plots == ["residuals"] and list(stored.plots) == ["confusion_matrix"]
    _, _, model, signature = iris
    meta = {"task": "classification", "algorithm": "lr", "signature": signature}
    for bad, message in (
        (_card(task=3), "'task' has the wrong type"),
        (_card(plots={"roc": [1, 2]}), "'plots' has the wrong type"),
        ({**_card(), "secret": 1}, "Unknown model card field"),
        ({"task": "classification"}, "lacks: best_algorithm"),
        ([1], "must be a JSON object"),
    ):
        with pytest.raises(Invalid, match=message):
            store.models.register_artifact(admin, "iris", dump_model(model), {**meta, "card": bad})
    assert [v.version for v in store.models.versions(admin, "iris")] == [1, 2]


def test_predict_validates_signature(store, admin, iris):
    frame, features, _, _ = iris
    register(store, admin, iris)
    with pytest.raises(Invalid, match="petal_width"):
        store.models.predict(admin, "iris", frame[features].drop(columns=["petal_width"]))
    extra = frame[features].head(3).assign(unused="x")
    assert len(store.models.predict(admin, "iris", extra)) == 3
    as_text = frame[features].head(3).astype(str)
    assert len(store.models.predict(admin, "iris", as_text)) == 3
    bad = frame[features].head(3).astype(object)
    bad.loc[0, "sepal_length"] = "abc"
    with pytest.raises(Invalid, match="sepal_length"):
        store.models.predict(admin, "iris", bad)


def test_tampered_artifact_is_refused(store, admin, iris):
    frame, features, _, _ = iris
    v = register(store, admin, iris)
    from astralytiq_jupyter.core.models import ModelVersionRecord

    with store.session() as s:
        key = s.query(ModelVersionRecord.storage_key).scalar()
    path = store.storage.path(key)
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    data[-10] ^= 0xFF
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    store.models._cache = type(store.models._cache)()
    with pytest.raises(Invalid, match="corrupt|tamper"):
        store.models.predict(admin, v.ref, frame[features].head(1))


def test_untrusted_types_are_refused(store, admin, iris):
    frame, features, _, signature = iris
    with pytest.raises(Invalid, match="does not trust: tests.core.test_registry._Untrusted"):
        store.models.register(
            admin,
            "evil",
            _Untrusted().fit(frame[features], frame["target"]),
            task="classification",
            algorithm="custom",
            signature=signature,
        )
    assert store.models.list(admin) == []


class _Untrusted:
    """A type no server trusts."""

    def fit(self, X, y):
        self.classes_ = sorted(set(y))
        return self

    def predict(self, X):
        return [self.classes_[0]] * len(X)


def test_roles_and_tenants(store, admin, iris):
    frame, features, _, _ = iris
    register(store, admin, iris)
    viewer = principal_for(store, "acme", "val", Role.VIEWER)
    analyst = principal_for(store, "acme", "bob", Role.ANALYST)
    other = principal_for(store, "globex", "gus", Role.ADMIN)
    assert len(store.models.predict(viewer, "iris", frame[features].head(2))) == 2
    with pytest.raises(Forbidden):
        register(store, viewer, iris)
    with pytest.raises(Forbidden):
        store.models.set_alias(viewer, "iris", "production", 1)
    with pytest.raises(Forbidden):
        store.models.delete(analyst, "iris")
    for call in (
        lambda: store.models.get(other, "iris"),
        lambda: store.models.predict(other, "iris", frame[features].head(1)),
        lambda: store.models.set_alias(other, "iris", "production", 1),
        lambda: store.models.delete(other, "iris"),
        lambda: store.models.alias_history(other, "iris"),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.models.list(other) == []


def test_delete_and_quota(store, iris, stored_files):
    tiny = principal_for(store, "tiny", "ann", Role.ADMIN, plan="free")
    from astralytiq_jupyter.core.tenancy import PLANS

    for i in range(PLANS["free"].models):
        register(store, tiny, iris, name=f"m{i}")
    before = stored_files()
    with pytest.raises(QuotaExceeded, match="models"):
        register(store, tiny, iris, name="one-more")
    assert stored_files() == before
    register(store, tiny, iris, name="m0")  # new version of an existing model is fine
    store.models.set_alias(tiny, "m0", "production", 2)
    assert store.models.delete(tiny, "m0", 2) == 1
    with pytest.raises(NotFound):
        store.models.get(tiny, "m0@production")
    assert store.models.delete(tiny, "m0") == 1
    # Each version is its skops artifact and its compiled ONNX file: both are gone.
    assert len(stored_files()) == len(before) - 2


def test_train_register_predict_through_workspace(ws, iris):
    frame, features, _, _ = iris
    ws.datasets.save(frame, "iris-data")
    cleaned = ws.recipes.apply([{"op": "drop_duplicates"}], "iris-data", save_as="iris-clean")
    result = ws.train(cleaned.ref, target="target", algorithms=["logistic_regression"], cv_folds=3)
    assert result.task == "classification" and result.holdout_metrics["accuracy"] >= 0.85
    version = ws.models.register("iris-clf", result)
    assert version.dataset == "iris-clean@1" and version.recipe == cleaned.recipe
    assert (
        version.algorithm == "logistic_regression"
        and version.metrics["holdout"]["accuracy"] >= 0.85
    )
    assert [c["name"] for c in version.signature] == features
    out = ws.models.predict("iris-clf", frame[features].head(5))
    assert out["prediction"].tolist() == result.model.predict(frame[features].head(5)).tolist()


def test_training_needs_analyst(store, iris):
    from ..conftest import workspace_for

    frame, *_ = iris
    admin = workspace_for(store, "acme", "ann", Role.ADMIN)
    admin.datasets.save(frame, "iris-data")
    viewer = workspace_for(store, "acme", "val", Role.VIEWER)
    with pytest.raises(Forbidden):
        viewer.train("iris-data", target="target")
