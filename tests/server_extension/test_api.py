"""Identity (JupyterHub groups, member table, tokens), OpenAPI parity, metrics and the
environment handed to kernels."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import astralytiq_jupyter as aq
from astralytiq_jupyter.client.remote import RemoteBackend
from astralytiq_jupyter.core.errors import Forbidden
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.server_extension.openapi import PATH, build
from astralytiq_jupyter.server_extension.routes import api_routes

from .live import LiveServer, live_server

HUB_USERS = {
    "t-alice": {"name": "alice", "groups": ["astralytiq-tenant-acme", "astralytiq-role-analyst"]},
    "t-bob": {"name": "bob", "groups": ["astralytiq-tenant-acme"]},
    "t-carol": {"name": "carol", "groups": ["astralytiq-tenant-acme"]},
    "t-dave": {
        "name": "dave",
        "groups": [
            "astralytiq-tenant-acme",
            "astralytiq-tenant-globex",
            "astralytiq-role-viewer",
            "astralytiq-role-admin",
        ],
    },
    "t-erin": {"name": "erin", "groups": ["astralytiq-tenant-nowhere", "astralytiq-role-admin"]},
    "t-frank": {"name": "frank", "groups": ["astralytiq-platform-owners"]},
    "t-gina": {"name": "gina", "groups": ["other"]},
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = {
        "ServerApp": {
            "identity_provider_class": "tests.server_extension.hub_idp.HubTestIdentityProvider"
        },
        "HubTestIdentityProvider": {"users": HUB_USERS},
        "AstralytiQ": {"bootstrap_owner": False, "platform_owners": []},
    }
    with live_server(tmp_path_factory.mktemp("hub"), "sqlite", config) as server:
        server.store.ensure_tenant("acme", "Acme")
        server.store.ensure_tenant("globex", "Globex")
        server.store.ensure_member("acme", "bob", Role.VIEWER)
        server.store.ensure_member("globex", "frank", Role.ANALYST)
        yield server


def me(server: LiveServer, token: str, tenant: str | None = None) -> requests.Response:
    headers = {"Authorization": f"token {token}"}
    if tenant:
        headers["X-AstralytiQ-Tenant"] = tenant
    return requests.get(server.api("/me"), headers=headers, timeout=30)


def test_hub_groups_give_tenant_and_role(hub: LiveServer) -> None:
    body = me(hub, "t-alice").json()
    assert (body["user"], body["tenant"], body["role"], body["via"]) == (
        "alice",
        "acme",
        "analyst",
        "hub",
    )


def test_hub_role_falls_back_to_member_table(hub: LiveServer) -> None:
    assert me(hub, "t-bob").json()["role"] == "viewer"
    response = me(hub, "t-carol")
    assert response.status_code == 403 and "no role" in response.json()["message"]


def test_hub_several_tenants_need_a_choice(hub: LiveServer) -> None:
    assert me(hub, "t-dave").status_code == 403
    body = me(hub, "t-dave", tenant="globex").json()
    assert (body["tenant"], body["role"]) == ("globex", "admin")  # the highest role group
    assert me(hub, "t-dave", tenant="initech").status_code == 403


def test_hub_unknown_tenant_and_no_groups(hub: LiveServer) -> None:
    assert "not set up" in me(hub, "t-erin").json()["message"]
    assert me(hub, "t-gina").status_code == 403
    assert me(hub, "no-such-token").status_code == 403


def test_hub_platform_owner_group(hub: LiveServer) -> None:
    body = me(hub, "t-frank").json()
    assert (body["tenant"], body["role"], body["platform_owner"]) == ("globex", "analyst", True)
    headers = {"Authorization": "token t-frank"}
    response = requests.post(
        hub.api("/tenants"), json={"slug": "initech", "admin": "ivy"}, headers=headers, timeout=30
    )
    assert response.status_code == 201
    alice = {"Authorization": "token t-alice"}
    assert requests.get(hub.api("/tenants"), headers=alice, timeout=30).status_code == 403


def test_hub_user_tokens_act_for_them_outside_jupyter(hub: LiveServer) -> None:
    # An analyst cannot mint tokens (token:manage is an admin permission) ...
    alice = {"Authorization": "token t-alice"}
    denied = requests.post(hub.api("/tokens"), json={"name": "x"}, headers=alice, timeout=30)
    assert denied.status_code == 403
    # ... an admin (dave in globex) can, scoped to a lower role, and it works as Bearer.
    dave = {"Authorization": "token t-dave", "X-AstralytiQ-Tenant": "globex"}
    created = requests.post(
        hub.api("/tokens"),
        json={"name": "app", "role": "viewer", "expires_in": 3600},
        headers=dave,
        timeout=30,
    ).json()
    ws = RemoteBackend(hub.url, created["token"])
    assert (ws.me.user, ws.me.tenant, ws.me.role) == ("dave", "globex", Role.VIEWER)
    with pytest.raises(Forbidden):
        ws.tenant.members()
    requests.delete(hub.api(f"/tokens/{created['id']}"), headers=dave, timeout=30)
    with pytest.raises(Forbidden):
        RemoteBackend(hub.url, created["token"]).me


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("single"), "sqlite") as server:
        yield server


def test_single_user_server_caller_is_the_owner(single: LiveServer) -> None:
    body = me(single, single.token).json()
    assert (body["user"], body["tenant"], body["role"], body["platform_owner"]) == (
        "owner",
        "default",
        "admin",
        True,
    )


def test_token_lifecycle(single: LiveServer) -> None:
    owner = {"Authorization": f"token {single.token}"}
    created = requests.post(
        single.api("/tokens"), json={"name": "ci", "expires_in": 120}, headers=owner, timeout=30
    )
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    listed = requests.get(single.api("/tokens"), headers=owner, timeout=30).json()["items"]
    assert token_id in [t["id"] for t in listed] and all("token" not in t for t in listed)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert requests.get(single.api("/me"), headers=bearer, timeout=30).json()["via"] == "token"
    # A token dies with its holder's membership.
    single.store.ensure_member("default", "temp", Role.ANALYST)
    temp = single.store.tokens.issue("default", "temp", Role.ANALYST, name="t", created_by="x")
    assert (
        requests.get(
            single.api("/me"), timeout=30, headers={"Authorization": f"Bearer {temp.secret}"}
        ).status_code
        == 200
    )
    owner_principal = single.ext.resolver.resolve(type("U", (), {"username": "owner"})())
    single.store.tenants.remove_member(owner_principal, "temp")
    assert (
        requests.get(
            single.api("/me"), timeout=30, headers={"Authorization": f"Bearer {temp.secret}"}
        ).status_code
        == 403
    )
    assert (
        requests.delete(single.api(f"/tokens/{token_id}"), headers=owner, timeout=30).status_code
        == 204
    )
    assert requests.get(single.api("/me"), headers=bearer, timeout=30).status_code == 403
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert (
        requests.get(
            single.api("/me"), timeout=30, headers={"Authorization": f"Bearer {tampered}"}
        ).status_code
        == 403
    )


def test_openapi_lists_exactly_the_served_routes(single: LiveServer) -> None:
    document = json.loads(PATH.read_text())
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    served = {(r.template, m) for r in api_routes() for m in r.operations}
    assert documented == served
    assert document == build(), (
        "openapi.json is stale: run python -m astralytiq_jupyter.server_extension.openapi"
    )
    repo_copy = Path(__file__).resolve().parents[2] / "api" / "openapi.json"
    assert repo_copy.resolve() == PATH.resolve()
    response = requests.get(
        single.api("/openapi.json"), timeout=30, headers={"Authorization": f"token {single.token}"}
    )
    assert response.json() == document
    # Every tornado pattern the extension registered is in the document.
    prefix = "astralytiq/api"
    templates = {
        re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", p.split(prefix, 1)[1]).rstrip("$")
        for p in _patterns(single.app.web_app.default_router)
        if prefix in p
    }
    # ... and the JSON 404 of any other path under the prefix.
    assert templates == {r.template for r in api_routes()} | {"(?:/.*)?"}
    # Query parameters: the document lists exactly those each operation accepts.
    for route in api_routes():
        for method, operation in route.operations.items():
            listed = document["paths"][route.template][method.lower()]["parameters"]
            assert [p["name"] for p in listed if p["in"] == "query"] == list(operation.query_names)


def test_unknown_query_parameters_are_refused(single: LiveServer) -> None:
    owner = {"Authorization": f"token {single.token}"}
    typo = requests.get(single.api("/datasets"), params={"limt": 5}, headers=owner, timeout=30)
    assert typo.status_code == 400
    body = typo.json()
    assert body["error"] == "invalid" and "Unknown query parameter(s): limt" in body["message"]
    assert "search, limit, offset" in body["message"]
    none = requests.get(single.api("/me"), params={"x": 1}, headers=owner, timeout=30)
    assert none.status_code == 400 and "takes none" in none.json()["message"]
    listed = requests.get(single.api("/datasets"), params={"limit": 5}, headers=owner, timeout=30)
    assert listed.status_code == 200 and listed.json()["limit"] == 5
    # jupyter_server's own URL token still authenticates.
    url_token = requests.get(single.api("/me"), params={"token": single.token}, timeout=30)
    assert url_token.status_code == 200
    # Credentials are checked first: an anonymous caller learns nothing about parameters.
    anonymous = requests.get(single.api("/datasets"), params={"limt": 5}, timeout=30)
    assert anonymous.status_code == 403


def _patterns(router: object) -> Iterator[str]:
    for rule in getattr(router, "rules", []):
        regex = getattr(rule.matcher, "regex", None)
        if regex is not None:
            yield regex.pattern
        yield from _patterns(rule.target)


def test_identical_upload_answers_200_with_the_existing_version(single: LiveServer) -> None:
    session = single.session(single.token)
    url = single.api("/datasets/same-bytes/versions")
    params = {"filename": "same.csv"}
    first = session.post(url, params=params, data=b"a,b\n1,x\n", timeout=60)
    second = session.post(url, params=params, data=b"a,b\n1,x\n", timeout=60)
    assert (first.status_code, first.json()["reused"]) == (201, False)
    assert (second.status_code, second.json()["reused"]) == (200, True)
    assert second.json()["ref"] == first.json()["ref"] == "same-bytes@1"
    forced = session.post(url, params={**params, "force": "true"}, data=b"a,b\n1,x\n", timeout=60)
    assert forced.status_code == 201 and forced.json()["ref"] == "same-bytes@2"
    wrong = session.post(url, params={**params, "force": "yes"}, data=b"a,b\n1,x\n", timeout=60)
    assert wrong.status_code == 400
    assert "'force' must be 'true' or 'false'" in wrong.json()["message"]
    body = {"url": "https://x", "force": 1}
    ingest = session.post(single.api("/datasets/same-bytes/ingest"), json=body, timeout=60)
    assert ingest.status_code == 400
    assert ingest.json()["message"] == "Field 'force' must be a boolean."


def test_prometheus_metrics(single: LiveServer) -> None:
    headers = {"Authorization": f"token {single.token}"}
    requests.get(single.api("/datasets"), headers=headers, timeout=30)
    text = requests.get(f"{single.url}metrics", headers=headers, timeout=30).text
    assert (
        'astralytiq_api_requests_total{method="GET",operation="dataset.list",status="200"}' in text
    )
    for name in (
        "astralytiq_api_request_duration_seconds_bucket",
        "astralytiq_uploads_total",
        "astralytiq_upload_bytes_total",
        "astralytiq_predictions_total",
    ):
        assert name in text


def test_concurrent_requests_do_not_stall_the_server(single: LiveServer) -> None:
    """Blocking core work runs in threads: while 16 uploads and reads are in flight, the
    health route still answers quickly."""
    headers = {"Authorization": f"token {single.token}"}
    csv = b"a,b\n" + b"1,2\n" * 20_000

    def upload(i: int) -> int:
        return requests.post(
            single.api(f"/datasets/c{i}/versions"),
            data=csv,
            timeout=120,
            params={"filename": "c.csv"},
            headers=headers,
        ).status_code

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(upload, i) for i in range(16)]
        started = time.perf_counter()
        health = requests.get(single.api("/health"), headers=headers, timeout=30)
        latency = time.perf_counter() - started
        statuses = [f.result() for f in futures]
    assert health.status_code == 200 and latency < 2.0
    assert statuses == [201] * 16


def test_once_listening_the_extension_starts_its_services(tmp_path: Path) -> None:
    """jupyter_server's start hook (not a test calling it) exports ASTRALYTIQ_URL, and never a
    credential, for kernels, where ``aq.connect()`` then uses the RemoteBackend (each kernel
    gets its own token from the provisioner: test_kernels.py); starts the periodic usage
    flush; and freezes the long-lived objects out of the garbage collector's reach."""
    import gc
    from datetime import datetime, timezone

    config = {"AstralytiQ": {"set_kernel_env": True, "usage_flush_seconds": 0.2, "freeze_gc": True}}
    with live_server(tmp_path, "sqlite", config) as server:
        try:
            url = os.environ["ASTRALYTIQ_URL"]
            assert url.endswith("/") and str(server.port) in url
            assert "ASTRALYTIQ_TOKEN" not in os.environ
            assert server.token not in "".join(os.environ.values())
            assert gc.get_freeze_count() > 0
            ws = aq.connect(token=server.token)
            assert type(ws.backend).__name__ == "RemoteBackend"
            me_ = ws.me
            assert (me_.user, me_.tenant, me_.role) == ("owner", "default", Role.ADMIN)
            period = datetime.now(timezone.utc).strftime("%Y-%m")
            deadline = time.monotonic() + 10
            stored = 0
            while time.monotonic() < deadline and stored == 0:
                time.sleep(0.1)
                stored = server.store.usage._stored(("default", period))
            assert stored >= 1, "the usage flusher did not write while the server ran"
        finally:
            gc.unfreeze()
    assert "ASTRALYTIQ_URL" not in os.environ and "ASTRALYTIQ_TOKEN" not in os.environ


def test_predict_fast_path_matches_the_validated_path(single: LiveServer) -> None:
    import io

    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int)
    owner = single.principal("default", "owner", Role.ADMIN)
    signature = [{"name": c, "dtype": "float64"} for c in X.columns]
    output = {"kind": "classification", "classes": [0, 1]}
    for version, model in enumerate(
        (RandomForestClassifier(n_estimators=4, random_state=0), LogisticRegression()), 1
    ):
        registered = single.store.models.register(
            owner,
            "fast",
            model.fit(X, y),
            task="classification",
            algorithm=type(model).__name__,
            signature=signature,
            output=output,
            input_example=X,
        )
        assert registered.runtime == "onnx", registered.runtime_note
    single.store.models.set_alias(owner, "fast", "live", 1)
    token = single.token_for("default", "owner", Role.ADMIN)
    bearer = {"Authorization": f"Bearer {token}"}
    url = single.api("/models/fast@live/predict")
    rows = X.head(50).to_dict(orient="records")
    freezes = []
    original_freeze = single.ext.freeze_long_lived
    single.ext.freeze_long_lived = lambda: freezes.append(1)
    try:
        for _ in range(2):  # cold (resolved and loaded in a worker thread), then warm (inline)
            fast = requests.post(url, json={"records": rows}, headers=bearer, timeout=30)
            assert fast.status_code == 200, fast.text
    finally:
        single.ext.freeze_long_lived = original_freeze
    assert freezes == [1], "loading the model once freezes the long-lived objects once"
    # A large batch for a compiled model runs on the compiled models' own worker.
    big = X.sample(2000, replace=True, random_state=0).to_dict(orient="records")
    assert requests.post(url, json={"records": big}, headers=bearer, timeout=30).ok
    assert len(single.ext.compiled_executor._threads) == 1
    slow = requests.post(
        url,
        data=X.head(50).to_parquet(),
        headers={
            **bearer,
            "Content-Type": "application/vnd.apache.parquet",
            "Accept": "application/vnd.apache.parquet",
        },
        timeout=30,
    )
    assert slow.status_code == 200, slow.text
    expected = pd.read_parquet(io.BytesIO(slow.content))
    got = pd.DataFrame(fast.json()["predictions"])
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(got[["proba_0", "proba_1"]], expected[["proba_0", "proba_1"]])
    forest = single.store.models.predict(owner, "fast@1", X.head(50))
    assert got["prediction"].tolist() == forest["prediction"].tolist()

    # Moving the alias takes effect at once in this server, cache or not.
    single.store.models.set_alias(owner, "fast", "live", 2)
    moved = requests.post(url, json={"records": rows}, headers=bearer, timeout=30).json()
    linear = single.store.models.predict(owner, "fast@2", X.head(50))
    assert [r["proba_1"] for r in moved["predictions"]] == pytest.approx(
        linear["proba_1"].tolist(), abs=1e-12
    )

    # Rows the fast path cannot take get the full validation and its specific errors.
    bad = requests.post(url, json={"records": [{"a": "x", "b": 1, "c": 2}]}, headers=bearer)
    assert bad.status_code == 400 and "Column 'a' expects numeric" in bad.json()["message"]
    missing = requests.post(url, json={"records": [{"a": 1, "b": 1}]}, headers=bearer)
    assert missing.status_code == 400 and "Missing input column: 'c'" in missing.json()["message"]
    gaps = requests.post(
        url, data='{"records": [{"a": NaN, "b": "2", "c": 3}]}', headers=bearer, timeout=30
    )
    assert gaps.status_code == 400 and "missing values" in gaps.json()["message"]
    slow_gaps = requests.post(
        url,
        data=pd.DataFrame({"a": [np.nan], "b": [2.0], "c": [3.0]}).to_parquet(),
        headers={**bearer, "Content-Type": "application/vnd.apache.parquet"},
        timeout=30,
    )
    assert slow_gaps.status_code == 400 and "missing values" in slow_gaps.json()["message"]
