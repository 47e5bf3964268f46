import pandas as pd

from astralytiq_jupyter.widgets.pickers import DatasetPicker, split_ref


def test_split_ref():
    assert split_ref("sales") == ("sales", None)
    assert split_ref("sales@3") == ("sales", "3")
    assert split_ref("churn@production") == ("churn", "production")


def test_dataset_picker_lists_names_versions_and_follows_changes(ws):
    ws.datasets.save(pd.DataFrame({"a": [1]}), "alpha")
    ws.datasets.save(pd.DataFrame({"a": [1, 2]}), "alpha")
    ws.datasets.save(pd.DataFrame({"b": [1]}), "beta")
    picker = DatasetPicker(ws)
    assert picker.name.options == ("alpha", "beta")
    assert picker.ref == "alpha"  # latest by default
    labels = [label for label, _ in picker.version.options]
    assert labels[0].startswith("latest (v2)") and any(label.startswith("v1 ·") for label in labels)
    seen = []
    picker.on_change(seen.append)
    picker.version.value = "1"
    assert seen[-1] == "alpha@1"
    picker.name.value = "beta"
    assert seen[-1] == "beta"
    ws.datasets.save(pd.DataFrame({"c": [1]}), "gamma")
    picker.select("gamma@1")
    assert picker.ref == "gamma@1" and "gamma" in picker.name.options


def test_empty_store_disables_the_picker(ws):
    picker = DatasetPicker(ws)
    assert picker.ref is None and picker.name.disabled
