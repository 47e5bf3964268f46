"""``TrainingResult.to_code()``: a standalone script that reproduces the best pipeline.

The pipeline is written from the fitted object itself (every parameter that differs from the
class default, nothing elided), and the few helpers it relies on (input coercion, date parts,
the forecaster, the metric functions) are copied from their source, so the script cannot drift
from what the engine ran. It needs numpy, pandas, scikit-learn (and statsmodels for forecasts),
not this package.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from . import forecasting as fc
from . import metrics as mt
from . import preprocessing as pp
from .algorithms import plain

if TYPE_CHECKING:
    from .training import TrainingResult

_LOAD = """def load(path):
    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)"""


def _public_path(cls: type) -> str:
    """The shortest public module exporting ``cls`` (sklearn.ensemble, not ._forest)."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        if any(p.startswith("_") for p in parts[1:i]):
            continue
        module = ".".join(parts[:i])
        try:
            if getattr(import_module(module), cls.__name__, None) is cls:
                return module
        except ImportError:
            continue
    return cls.__module__


def _same(default: Any, value: Any) -> bool:
    if default is value:
        return True
    if type(default) is not type(value):
        return False
    try:
        return bool(default == value)
    except (ValueError, TypeError):
        return False


def _wrap(opening: str, items: list[str], closing: str, indent: int, trailer: str = "") -> str:
    one_line = opening + ", ".join(items) + trailer + closing
    if len(one_line) + 4 * indent <= 90 and "\n" not in one_line:
        return one_line
    pad = "    " * (indent + 1)
    return opening + "\n" + "".join(f"{pad}{i},\n" for i in items) + "    " * indent + closing


def estimator_code(obj: Any, imports: set[str], embedded: set[type], indent: int = 0) -> str:
    """Python source constructing an unfitted copy of ``obj``; collects imports as it goes.

    Classes of this package go into ``embedded`` (their source is copied into the script).
    """
    if isinstance(obj, BaseEstimator):
        cls = type(obj)
        if cls.__module__.startswith("astralytiq_jupyter"):
            embedded.add(cls)
        else:
            imports.add(f"from {_public_path(cls)} import {cls.__name__}")
        defaults = {
            name: p.default
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        args = [
            f"{name}={estimator_code(value, imports, embedded, indent + 1)}"
            for name, value in obj.get_params(deep=False).items()
            if not (name in defaults and _same(defaults[name], value))
        ]
        return _wrap(f"{cls.__name__}(", args, ")", indent)
    if isinstance(obj, (list, tuple)):
        items = [estimator_code(v, imports, embedded, indent + 1) for v in obj]
        if isinstance(obj, list):
            return _wrap("[", items, "]", indent)
        return _wrap("(", items, ")", indent, "," if len(items) == 1 else "")
    if isinstance(obj, dict):
        pairs = [
            f"{estimator_code(k, imports, embedded)}: "
            f"{estimator_code(v, imports, embedded, indent + 1)}"
            for k, v in obj.items()
        ]
        return _wrap("{", pairs, "}", indent)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        imports.add("import numpy as np")
        return "np.nan" if math.isnan(obj) else ("np.inf" if obj > 0 else "-np.inf")
    if isinstance(obj, type) and obj.__module__ == "numpy":
        imports.add("import numpy as np")
        return f"np.{obj.__name__}"
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as code")


def _import_block(imports: Iterable[str]) -> str:
    """Standard-library imports first, then third-party ones; one line per module."""
    plain_imports, from_imports = set(), {}
    for line in imports:
        if line.startswith("from "):
            module, names = line[5:].split(" import ")
            from_imports.setdefault(module, set()).update(n.strip() for n in names.split(","))
        else:
            plain_imports.add(line)
    lines = sorted(plain_imports)
    for module, names in sorted(from_imports.items()):
        line = f"from {module} import {', '.join(sorted(names))}"
        if len(line) > 100:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in sorted(names)) + ")"
        lines.append(line)
    stdlib = [x for x in lines if x.split()[1].split(".")[0] in sys.stdlib_module_names]
    third = [x for x in lines if x not in stdlib]
    return "\n".join(stdlib) + "\n\n" + "\n".join(third) + "\n"


def _sources(*objects: Any) -> str:
    return "\n\n\n".join(o if isinstance(o, str) else inspect.getsource(o).strip() for o in objects)


def _header(result: TrainingResult, summary: str) -> str:
    versions = result.library_versions
    target = f" of '{result.target}'" if result.target else ""
    return f'''#!/usr/bin/env python
"""{summary}

Exported by AstralytiQ: {result.best_algorithm} ({result.task}{target}).

    python this_script.py DATA.csv      (or DATA.parquet)

Rebuilds the pipeline with the same parameters, fits it on the same training split and prints
the holdout metrics as JSON. Trained with scikit-learn {versions.get("scikit-learn", "?")} and
pandas {versions.get("pandas", "?")}.
"""

from __future__ import annotations

'''


def supervised_script(result: TrainingResult) -> str:
    """The script for classification, regression and clustering results."""
    spec, task = result.spec, result.task
    imports = {
        "import json",
        "import sys",
        "import warnings",
        "import numpy as np",
        "import pandas as pd",
        "from sklearn.model_selection import train_test_split",
    }
    embedded: set[type] = set()
    pipeline = estimator_code(clone(result.model), imports, embedded, indent=1)
    helpers: list[Any] = [pp.coerce_column]
    if task != "clustering":
        helpers.append(pp.target_array)
    helpers.extend(sorted(embedded, key=lambda c: c.__name__))
    if embedded:
        imports.add("from sklearn.base import BaseEstimator, TransformerMixin")
    if task == "classification":
        helpers.append(mt.classification_scores)
        imports.add("import math")
        imports.add(
            "from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, "
            "log_loss, precision_score, recall_score, roc_auc_score"
        )
        evaluate = (
            "    predicted = pipeline.predict(X_test)\n"
            "    proba = pipeline.predict_proba(X_test)\n"
            "    metrics = classification_scores(y_test, predicted, proba, "
            "list(pipeline.classes_))\n"
        )
    elif task == "regression":
        helpers.append(mt.regression_scores)
        imports.add(
            "from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, "
            "r2_score, root_mean_squared_error"
        )
        evaluate = "    metrics = regression_scores(y_test, pipeline.predict(X_test))\n"
    else:
        helpers.append(f"MAX_SILHOUETTE_ROWS = {mt.MAX_SILHOUETTE_ROWS}")
        helpers.append(mt.clustering_scores)
        imports.add("import math")
        imports.add("from sklearn.metrics import silhouette_score")
        evaluate = (
            "    labels = pipeline.predict(X_test)\n"
            "    metrics = clustering_scores(pipeline[:-1].transform(X_test), labels, "
            f"{spec.random_state!r})\n"
        )
    split_args = f"test_size={spec.holdout!r}, random_state={spec.random_state!r}"
    if task == "clustering":
        prepare = ""
        split = f"    X_train, X_test = train_test_split(X, {split_args})\n"
        fit = "pipeline.fit(X_train)"
    else:
        stratify = "y" if task == "classification" else "None"
        prepare = (
            "    df = df[df[TARGET].notna()].reset_index(drop=True)\n"
            f"    y = target_array(df[TARGET], {task!r})\n"
        )
        split = (
            "    X_train, X_test, y_train, y_test = train_test_split(\n"
            f"        X, y, {split_args}, stratify={stratify}\n    )\n"
        )
        fit = "pipeline.fit(X_train, y_train)"
    columns = {c["name"]: c["kind"] for c in result.signature}
    return (
        _header(result, "Train and evaluate the exported model.")
        + _import_block(imports)
        + f"\n\nTARGET = {result.target!r}\n"
        + f"COLUMNS = {columns!r}  # column -> kind\n\n\n"
        + _sources(*helpers, _LOAD)
        + "\n\n\ndef main(path):\n"
        + "    df = load(path)\n"
        + prepare
        + "    X = pd.DataFrame(\n"
        + "        {name: coerce_column(df[name], kind)[0] for name, kind in COLUMNS.items()}\n"
        + "    )\n"
        + split
        + f"    pipeline = {pipeline}\n"
        + "    with warnings.catch_warnings():\n"
        + "        warnings.simplefilter('ignore')\n"
        + f"        {fit}\n"
        + evaluate
        + "    print(json.dumps(metrics, indent=2))\n"
        + "    return pipeline\n\n\n"
        + 'if __name__ == "__main__":\n'
        + "    main(sys.argv[1])\n"
    )


def forecast_script(result: TrainingResult) -> str:
    """The script for forecasting results: same series preparation, model and holdout."""
    out = result.output
    forecaster = result.model[-1]
    params = {k: plain(v) for k, v in forecaster.get_params().items()}
    return (
        _header(result, "Fit and evaluate the exported forecasting model.")
        + "import json\nimport sys\n"
        + fc.FORECASTER_IMPORTS
        + f"\n\nDATE_COLUMN = {out['date_column']!r}\n"
        + f"TARGET = {out['target']!r}\n"
        + f"FREQUENCY = {out['frequency']!r}\n"
        + f"HORIZON = {out['horizon']!r}\n"
        + f"PARAMS = {params!r}\n\n\n"
        + _sources(fc.SeriesForecaster, fc.forecast_scores, _LOAD)
        + "\n\n\ndef main(path):\n"
        + "    df = load(path)\n"
        + "    df = df[df[DATE_COLUMN].notna()]\n"
        + "    dates = pd.to_datetime(df[DATE_COLUMN])\n"
        + "    values = pd.to_numeric(df[TARGET], errors='coerce')\n"
        + "    series = SeriesForecaster.regular_series(dates, values, FREQUENCY)\n"
        + "    frame = pd.DataFrame({DATE_COLUMN: series.index, TARGET: series.to_numpy()})\n"
        + "    train, holdout = frame.iloc[:-HORIZON], frame.iloc[-HORIZON:]\n"
        + "    model = SeriesForecaster(**PARAMS).fit(train, train[TARGET])\n"
        + "    predicted = model.predict_interval(holdout)\n"
        + "    metrics = forecast_scores(holdout[TARGET].to_numpy(), predicted)\n"
        + "    print(json.dumps(metrics, indent=2))\n"
        + "    future = SeriesForecaster(**PARAMS).fit(frame, frame[TARGET]).forecast(HORIZON)\n"
        + "    print(future.to_string(index=False), file=sys.stderr)\n"
        + "    return model\n\n\n"
        + 'if __name__ == "__main__":\n'
        + "    main(sys.argv[1])\n"
    )
