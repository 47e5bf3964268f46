"""The dataset store through the Workspace API: versions, lineage, quotas, isolation,
and bad input that must leave no row and no file behind."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import func, select

import astralytiq_jupyter as aq
from astralytiq_jupyter.core.errors import Forbidden, Invalid, NotFound, QuotaExceeded
from astralytiq_jupyter.core.models import DatasetRecord, DatasetVersionRecord, TenantRecord
from astralytiq_jupyter.core.permissions import Role

from ..conftest import principal_for, workspace_for

CSV = (
    "region,amount,when\nnorth,10.5,2024-01-01\nsouth,3,2024-01-02\nnorth,,2024-01-03\n"
    "north,10.5,2024-01-01\n"
)


@pytest.fixture
def sales_csv(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(CSV)
    return path


def row_counts(store) -> tuple[int, int]:
    with store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(DatasetRecord)),
            s.scalar(select(func.count()).select_from(DatasetVersionRecord)),
        )


def test_ingest_load_and_metadata(ws, sales_csv, store, stored_files):
    v = ws.datasets.ingest(sales_csv, name="sales")
    assert (v.name, v.version, v.rows, v.columns) == ("sales", 1, 4, 3)
    assert v.ref == "sales@1" and v.source == "file" and v.format == "csv"
    assert set(v.schema) == {"region", "amount", "when"}
    assert v.quality["duplicate_rows"] == 1
    assert v.quality["missing"]["amount"]["count"] == 1
    assert 0 <= v.quality["score"] <= 100
    assert len(v.sha256) == 64 and v.size_bytes > 0 and v.created_by == "alice"
    (key,) = stored_files()
    assert re.search(r"/1-[0-9a-f]{32}\.parquet$", key) and "sales" not in key
    assert hashlib.sha256(store.storage.read_bytes(key)).hexdigest() == v.sha256
    df = ws.datasets.load("sales")
    assert list(df.columns) == ["region", "amount", "when"] and len(df) == 4
    assert df["amount"].sum() == pytest.approx(24.0)


def test_versions_are_numbered_and_immutable(ws, sales_csv):
    v1 = ws.datasets.ingest(sales_csv, name="sales")
    df = ws.datasets.load("sales")
    v2 = ws.datasets.save(
        df[df.region == "north"],
        "sales",
        parent="sales@1",
        note="north only",
        recipe=[{"op": "filter_rows"}],
    )
    assert v2.version == 2 and v2.parent == "sales@1" and v2.source == "derived"
    assert v2.recipe == [{"op": "filter_rows"}] and v2.note == "north only"
    assert [v.version for v in ws.datasets.versions("sales")] == [1, 2]
    assert ws.datasets.get("sales").version == 2
    assert ws.datasets.get("sales@1").sha256 == v1.sha256
    assert len(ws.datasets.load("sales@1")) == 4 and len(ws.datasets.load("sales")) == 3


def test_load_columns_and_limit(ws, sales_csv):
    ws.datasets.ingest(sales_csv, name="sales")
    df = ws.datasets.load("sales", columns=["amount"], limit=2)
    assert list(df.columns) == ["amount"] and len(df) == 2
    assert len(ws.datasets.load("sales", limit=0)) == 0
    assert len(ws.datasets.load("sales", limit=100)) == 4
    with pytest.raises(Invalid, match="no column.*'nope'"):
        ws.datasets.load("sales", columns=["nope"])
    with pytest.raises(NotFound):
        ws.datasets.load("sales@9")
    with pytest.raises(NotFound):
        ws.datasets.load("missing")


def test_list_and_search(ws, sales_csv):
    ws.datasets.ingest(sales_csv, name="sales", description="Monthly sales")
    ws.datasets.save(pd.DataFrame({"a": [1, 2]}), "customers")
    ws.datasets.save(pd.DataFrame({"a": [1, 2, 3]}), "customers")
    listed = ws.datasets.list()
    assert [(d.name, d.versions, d.latest.version) for d in listed] == [
        ("customers", 2, 2),
        ("sales", 1, 1),
    ]
    assert [d.name for d in ws.datasets.list(search="MONTHLY")] == ["sales"]
    assert [d.name for d in ws.datasets.list(limit=1, offset=1)] == ["sales"]


def test_delete_version_and_dataset(ws, sales_csv, store, stored_files):
    ws.datasets.ingest(sales_csv, name="sales")
    ws.datasets.ingest(sales_csv, name="sales", force=True)
    assert ws.datasets.delete("sales", 1) == 1
    assert [v.version for v in ws.datasets.versions("sales")] == [2]
    assert len(stored_files()) == 1
    assert ws.datasets.delete("sales") == 1
    assert row_counts(store) == (0, 0) and stored_files() == []
    with pytest.raises(NotFound):
        ws.datasets.get("sales")


def test_roles(store, sales_csv):
    analyst = workspace_for(store, "acme", "bob", Role.ANALYST)
    viewer = workspace_for(store, "acme", "val", Role.VIEWER)
    admin = workspace_for(store, "acme", "ann", Role.ADMIN)
    analyst.datasets.ingest(sales_csv, name="sales")
    assert len(viewer.datasets.load("sales")) == 4
    with pytest.raises(Forbidden):
        viewer.datasets.ingest(sales_csv, name="sales")
    with pytest.raises(Forbidden):
        viewer.datasets.save(pd.DataFrame({"a": [1]}), "x")
    with pytest.raises(Forbidden):
        analyst.datasets.delete("sales")
    denied = admin.audit.list(outcome="denied")
    assert [(e.actor, e.action) for e in denied] == [
        ("bob", "dataset.delete"),
        ("val", "dataset.save"),
        ("val", "dataset.ingest"),
    ]
    ok = admin.audit.list(outcome="ok", action="dataset.ingest")
    assert ok[0].resource == "dataset:sales@1" and ok[0].detail["rows"] == 4


def test_other_tenants_datasets_are_not_found(store, sales_csv):
    acme = workspace_for(store, "acme", "ann", Role.ADMIN)
    globex = workspace_for(store, "globex", "gus", Role.ADMIN)
    acme.datasets.ingest(sales_csv, name="sales")
    for call in (
        lambda: globex.datasets.get("sales"),
        lambda: globex.datasets.load("sales@1"),
        lambda: globex.datasets.versions("sales"),
        lambda: globex.datasets.delete("sales"),
        lambda: globex.datasets.save(pd.DataFrame({"a": [1]}), "x", parent="sales@1"),
    ):
        with pytest.raises(NotFound) as info:
            call()
        assert "sales" in str(info.value)
    assert globex.datasets.list() == []
    # Same name in another tenant is an independent dataset.
    assert globex.datasets.ingest(sales_csv, name="sales").version == 1
    assert acme.datasets.get("sales").version == 1


BAD_INPUTS = {
    "empty file": ("empty.csv", b""),
    "ragged csv": ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n"),
    "binary garbage": ("garbage.csv", bytes(range(256)) * 40),
    "duplicate columns": ("dup.csv", b"a,b,a\n1,2,3\n"),
    "empty column name": ("blank.csv", b"a,,c\n1,2,3\n"),
    "unsupported extension": ("data.exe", b"MZ\x90\x00"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_files_store_nothing(ws, store, stored_files, tmp_path, case):
    filename, payload = BAD_INPUTS[case]
    path = tmp_path / filename
    path.write_bytes(payload)
    with pytest.raises(Invalid) as info:
        ws.datasets.ingest(path, name="bad")
    assert str(info.value)
    assert row_counts(store) == (0, 0)
    assert stored_files() == []


def test_undecodable_encoding_stores_nothing(ws, store, stored_files, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nJosé,Zürich\n".encode("latin-1"))
    with pytest.raises(Invalid):
        ws.datasets.ingest(path, name="bad", encoding="utf-8")
    assert row_counts(store) == (0, 0) and stored_files() == []
    # Detected correctly when not forced.
    assert ws.datasets.load(ws.datasets.ingest(path, name="ok").ref)["city"].tolist() == ["Zürich"]


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", "a\\b", "x\x00", "", "a@1"])
def test_unsafe_names_store_nothing(ws, store, stored_files, sales_csv, name):
    with pytest.raises(Invalid):
        ws.datasets.ingest(sales_csv, name=name)
    assert row_counts(store) == (0, 0) and stored_files() == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x.csv", "http://169.254.169.254/latest/meta-data/x.csv"]
)
def test_forbidden_urls_store_nothing(ws, store, stored_files, url):
    with pytest.raises(Invalid):
        ws.datasets.ingest(url, name="remote")
    assert row_counts(store) == (0, 0) and stored_files() == []


def test_file_scheme_refused(ws, store, sales_csv):
    with pytest.raises(Invalid):
        ws.datasets.ingest(f"file://{sales_csv}", name="x")
    assert row_counts(store) == (0, 0)


def test_unreachable_sql_stores_nothing(ws, store, stored_files):
    src = aq.SqlSource("postgresql+psycopg://nobody:secret@127.0.0.1:9/none", "SELECT 1")
    with pytest.raises(Invalid) as info:
        ws.datasets.ingest(src, name="db")
    assert "secret" not in str(info.value)
    assert row_counts(store) == (0, 0) and stored_files() == []


def test_sql_source(ws, tmp_path):
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'src.db'}"
    pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}).to_sql(
        "t", create_engine(url), index=False
    )
    v = ws.datasets.ingest(aq.SqlSource(url, "SELECT id, v FROM t WHERE id > 1"), name="fromsql")
    assert v.rows == 2 and v.source == "sql"
    assert ws.datasets.load("fromsql")["v"].tolist() == ["b", "c"]


def test_dataset_count_quota(store, sales_csv, stored_files):
    ws = workspace_for(store, "tiny", "ann", Role.ADMIN, plan="free")
    limit = ws.tenant.info().quotas.datasets
    for i in range(limit):
        ws.datasets.save(pd.DataFrame({"a": [i]}), f"d{i}")
    before = stored_files()
    with pytest.raises(QuotaExceeded, match=f"{limit} datasets"):
        ws.datasets.ingest(sales_csv, name="one-too-many")
    # A new version of an existing dataset is still fine.
    ws.datasets.save(pd.DataFrame({"a": [1]}), "d0")
    assert len(ws.datasets.list()) == limit
    assert len(stored_files()) == len(before) + 1


def test_storage_and_upload_quotas(store, sales_csv, stored_files):
    ws = workspace_for(store, "tiny", "ann", Role.ADMIN, plan="free")
    with store.transaction() as s:
        row = s.scalars(select(TenantRecord).where(TenantRecord.slug == "tiny")).one()
        row.quota_overrides = {"storage_bytes": 3000, "upload_bytes": 2000}
    ws.datasets.ingest(sales_csv, name="small")
    files = stored_files()
    big = pd.DataFrame({"x": range(5000)})
    with pytest.raises(QuotaExceeded, match="Storage quota"):
        ws.datasets.save(big, "big")
    big_csv = sales_csv.parent / "big.csv"
    big_csv.write_text("a\n" + "\n".join(str(i) for i in range(1000)))
    with pytest.raises(QuotaExceeded, match="upload limit"):
        ws.datasets.ingest(big_csv, name="big")
    with pytest.raises(QuotaExceeded):
        ws.datasets.ingest(big_csv.read_bytes(), name="big", filename="big.csv")
    assert stored_files() == files
    assert [d.name for d in ws.datasets.list()] == ["small"]


def _concurrently(count, fn):
    results, errors = [], []

    def work():
        try:
            results.append(fn())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_concurrent_ingests_get_distinct_versions(ws, sales_csv, store):
    _concurrently(16, lambda: ws.datasets.ingest(sales_csv, name="sales", force=True))
    assert [v.version for v in ws.datasets.versions("sales")] == list(range(1, 17))
    assert all(len(ws.datasets.load(f"sales@{n}")) == 4 for n in range(1, 17))


def test_numbers_and_files_of_deleted_versions_are_never_given_again(ws, store) -> None:
    """``sales@N`` names the same data for ever: deleting the latest version, or the whole
    dataset, and saving again gives a new number and a new file."""
    alice = principal_for(store, "default", "alice", Role.ADMIN)
    keys = {}

    def save(rows: int) -> int:
        v = ws.datasets.save(pd.DataFrame({"x": range(rows)}), "sales")
        keys[v.version] = store.datasets.storage_key(alice, v.ref)
        return v.version

    assert [save(1), save(2)] == [1, 2]
    for n in range(3, 8):
        ws.datasets.delete("sales", n - 1)  # always the latest
        assert save(n) == n
    ws.datasets.delete("sales")  # the whole dataset
    with pytest.raises(NotFound):
        ws.datasets.get("sales")
    assert save(8) == 8
    assert [v.version for v in ws.datasets.versions("sales")] == [8]
    assert len(set(keys.values())) == 8
    other = workspace_for(store, "other", "olga", Role.ADMIN)  # counters are per tenant
    assert other.datasets.save(pd.DataFrame({"x": [1]}), "sales").version == 1


def test_concurrent_identical_ingests_store_one_version(ws, sales_csv, stored_files):
    results = _concurrently(6, lambda: ws.datasets.ingest(sales_csv, name="sales"))
    assert [v.version for v in ws.datasets.versions("sales")] == [1]
    assert {v.ref for v in results} == {"sales@1"}
    assert sorted(v.reused for v in results) == [False] + [True] * 5
    assert len(stored_files()) == 1  # the five staged copies were discarded


def test_sweeper_removes_only_orphans(ws, sales_csv, store, stored_files):
    import os

    v = ws.datasets.ingest(sales_csv, name="sales")
    (kept,) = stored_files()
    folder = kept.rsplit("/", 1)[0]
    orphans = [f"{folder}/7.parquet", f"{folder}/2-{'e' * 32}.parquet"]  # old and new layout
    old = time.time() - 7200
    for orphan in orphans:
        path = os.path.join(store.storage.root, orphan)
        with open(path, "wb") as fh:
            fh.write(b"left by a crashed writer")
        os.utime(path, (old, old))
    assert sorted(store.sweep_orphans(min_age_seconds=60)) == sorted(orphans)
    assert stored_files() == [kept]
    assert len(ws.datasets.load(v.ref)) == 4


def test_connect_quickstart(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTRALYTIQ_HOME", str(tmp_path / "aqhome"))
    (tmp_path / "sales.csv").write_text(CSV)
    with aq.connect() as ws:
        assert ws.me.tenant == "default" and ws.me.role is Role.ADMIN
        v = ws.datasets.ingest(tmp_path / "sales.csv", name="sales")
        assert repr(v).startswith("DatasetVersion(name='sales', version=1")
        assert len(ws.datasets.load("sales")) == 4
    assert (tmp_path / "aqhome" / "astralytiq.db").exists()


def test_sql_allowlist(store_config, tmp_path):
    from dataclasses import replace

    from sqlalchemy import create_engine

    from astralytiq_jupyter.core.store import Store

    url = f"sqlite:///{tmp_path / 'src.db'}"
    pd.DataFrame({"id": [1]}).to_sql("t", create_engine(url), index=False)
    with Store(replace(store_config, sql_import_allowlist=())) as closed:
        closed.ensure_tenant("default")
        ws = workspace_for(closed, "default", "alice", Role.ADMIN)
        with pytest.raises(Forbidden, match="sql_import_allowlist"):
            ws.datasets.ingest(aq.SqlSource(url, "SELECT * FROM t"), name="x")
        assert row_counts(closed) == (0, 0)
    with Store(replace(store_config, sql_import_allowlist=(url,))) as opened:
        ws = workspace_for(opened, "default", "alice", Role.ADMIN)
        assert ws.datasets.ingest(aq.SqlSource(url, "SELECT * FROM t"), name="x").rows == 1


def test_identical_content_returns_the_latest_version(ws, store, sales_csv, stored_files):
    """File, upload and DataFrame: the same stored content as the latest version (same
    SHA-256) with the same lineage is that version, said with ``reused``; ``force`` makes
    a new one; only the latest version is compared."""
    v1 = ws.datasets.ingest(sales_csv, name="sales")
    assert not v1.reused
    again = ws.datasets.ingest(sales_csv, name="sales", note="second look")
    assert again.reused and again == v1 and again.note == ""
    assert "reused=True" in repr(again) and again.to_dict()["reused"] is True
    upload = ws.datasets.ingest(sales_csv.read_bytes(), name="sales", filename="other.csv")
    assert upload.reused and upload.ref == "sales@1"
    assert [v.version for v in ws.datasets.versions("sales")] == [1] and len(stored_files()) == 1
    events = ws.audit.list(action="dataset.ingest")
    assert [e.detail["reused"] for e in events] == [True, True, False]

    changed = sales_csv.with_name("changed.csv")
    changed.write_text(CSV + "west,1,2024-01-04\n")
    assert ws.datasets.ingest(changed, name="sales").version == 2
    assert ws.datasets.ingest(sales_csv, name="sales").version == 3  # not the latest any more
    forced = ws.datasets.ingest(sales_csv, name="sales", force=True)
    assert (forced.version, forced.reused, forced.sha256) == (4, False, v1.sha256)

    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    s1 = ws.datasets.save(df, "frame")
    s2 = ws.datasets.save(df.copy(), "frame")
    assert s2.reused and s2 == s1
    assert ws.datasets.save(df.astype({"a": "float64"}), "frame").version == 2  # other dtype
    derived = ws.datasets.save(df.astype({"a": "float64"}), "frame", parent="sales@1")
    assert derived.version == 3 and not derived.reused  # same data, other lineage
    steps = [{"op": "drop_duplicates"}]
    r1 = ws.datasets.save(df, "frame", parent="sales@1", recipe=steps)
    assert ws.datasets.save(df, "frame", parent="sales@1", recipe=steps).reused
    assert ws.datasets.save(df, "frame", parent="sales@1", recipe=[]).version == r1.version + 1
    assert ws.datasets.save(df, "frame", force=True).version == r1.version + 2


def test_identical_url_download_is_reused(store_config, sales_csv):
    import functools
    import http.server
    from dataclasses import replace

    from astralytiq_jupyter.core.store import Store

    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(sales_csv.parent)
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{sales_csv.name}"
    try:
        with Store(replace(store_config, url_import_allowlist=("127.0.0.1",))) as store:
            ws = workspace_for(store, "default", "alice", Role.ADMIN)
            first = ws.datasets.ingest(url, name="web")
            second = ws.datasets.ingest(url, name="web")
            assert (second.ref, second.reused, first.reused) == ("web@1", True, False)
            sales_csv.write_text(CSV.replace("south", "east"))
            assert ws.datasets.ingest(url, name="web").version == 2
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_version_landing_between_metadata_and_bytes_is_not_mixed_in(ws, store, monkeypatch):
    """``load``/``read_table`` resolve ``sales`` once: a version committed right after the
    metadata is read (forced here by a hook on the store's read sessions) does not pair the
    first version's columns with the second's bytes."""
    ws.datasets.save(pd.DataFrame({"region": ["north", "south"], "amount": [1.0, 2.0]}), "sales")
    sessions = store.session
    landed = []

    def session_then_new_version():
        @contextlib.contextmanager
        def hooked():
            with sessions() as session:
                yield session
            if not landed:  # once, after the first read session of the load has closed
                landed.append(True)
                ws.datasets.save(pd.DataFrame({"units": [7, 8, 9]}), "sales", force=True)

        return hooked()

    monkeypatch.setattr(store, "session", session_then_new_version)
    df = ws.datasets.load("sales", columns=["region"])
    assert landed and df["region"].tolist() == ["north", "south"]
    monkeypatch.setattr(store, "session", sessions)
    assert ws.datasets.get("sales").version == 2
    landed.clear()
    monkeypatch.setattr(store, "session", session_then_new_version)
    table = store.datasets.read_table(ws.me, "sales", limit=1)
    assert landed and table.column_names == ["units"] and table.num_rows == 1
    monkeypatch.setattr(store, "session", sessions)
    assert ws.datasets.get("sales").version == 3


QUALITY_CASES = {
    "missing_and_duplicates": CSV,
    "text_numbers_and_constant": 'id,price,country\n1,"1,200",FR\n2,"3,400",FR\n3,n/a,FR\n'
    '4,"5,000",FR\n',
    "mixed_and_empty_column": "a,b,c\n1,x,\n2,3,\n2,3,\n,,\n" + "5,y,\n" * 40,
    "no_rows": "a,b\n",
}
# The profile names its findings more finely; these are the ones ingest records too.
PROFILE_KIND = {
    "missing_values": "missing",
    "all_missing": "missing",
    "duplicate_rows": "duplicates",
    "constant": "constant",
}


@pytest.mark.parametrize("case", QUALITY_CASES)
def test_ingest_and_profile_give_a_version_one_score_and_one_label(ws, tmp_path, case):
    path = tmp_path / f"{case}.csv"
    path.write_text(QUALITY_CASES[case])
    version = ws.datasets.ingest(path, name="q")
    report = ws.datasets.profile(version.ref)
    assert report.quality_score == version.quality["score"]
    recorded = {(i["kind"], i["column"]): i["severity"] for i in version.quality["issues"]}
    profiled = {
        (PROFILE_KIND[i.code], i.columns[0] if i.columns else None): i.severity
        for i in report.issues
        if i.code in PROFILE_KIND
    }
    assert {key: recorded[key] for key in profiled} == profiled
    assert {kind for kind, _ in recorded} - {"empty"} <= {kind for kind, _ in profiled}
    assert {i.severity for i in report.issues} <= {"error", "warning", "info"}


def test_cluster_counts_are_refused_before_a_range_is_built(ws):
    """``k_max=10**30`` once made the server build the whole range (22 GB, then killed): the
    counts are now read one by one and refused at the first one out of bounds."""
    import itertools

    points = pd.DataFrame(
        {"x": [float(i % 7) for i in range(60)], "y": [float(i % 5) for i in range(60)]}
    )
    ws.datasets.save(points, "points")
    started = time.perf_counter()
    for k_range in (
        range(2, 10**30),
        itertools.count(2),  # endless
        [2] * 10**6,  # too many counts
        [2, float("inf")],
    ):
        with pytest.raises(Invalid, match="k_range"):
            ws.datasets.explore_clusters("points", k_range=k_range)
    assert time.perf_counter() - started < 30  # refused at once, not after building a list
    assert ws.datasets.explore_clusters("points", k_range=range(2, 4))["k"] == [2, 3]


def test_aggregations_never_read_files(ws, tmp_path):
    """Aggregations run in DuckDB with file access off, and column names reach its SQL only
    as quoted identifiers: a name written as a file read is just a name."""
    secret = tmp_path / "secret.txt"
    secret.write_text("secret-marker-c41d")
    name = f"x\" FROM read_text('{secret}') --"
    ws.datasets.save(pd.DataFrame({name: ["a", "b", "a"], "v": [1, 2, 3]}), "tricky")
    result = ws.datasets.aggregate("tricky", {"group_by": [name]})
    assert sorted(result.frame[name]) == ["a", "b"]
    assert "secret-marker" not in result.frame.to_csv()
