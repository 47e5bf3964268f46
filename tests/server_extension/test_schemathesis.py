"""Schemathesis over the served OpenAPI document, as an admin, an analyst and a viewer of a
tenant with data: every operation gets requests generated from its documented parameters
and bodies, and no answer may be a 5xx or disagree with the document (status codes, media
types, headers, the error schema). Bounded in examples and without shrinking, so it stays
within a minute on two cores; derandomized, so CI sees the same requests every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.linear_model import LinearRegression

from astralytiq_jupyter.core.permissions import Role

from .live import LiveServer, live_server

#: Examples per operation and role (the admin last, since its deletes remove the data the
#: document's example names point at): the admin reaches every operation's work, the other
#: roles mostly its permission check.
EXAMPLES = {Role.VIEWER: 2, Role.ANALYST: 2, Role.ADMIN: 6}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("schemathesis"), "sqlite") as live:
        # The resources the document's examples name, so that generated requests reach them.
        admin = live.principal("acme", "admin-user", Role.ADMIN)
        store = live.store
        store.datasets.ingest(admin, b"x,y\n1,2\n2,4\n3,6\n4,9\n", "sales", filename="s.csv")
        model = LinearRegression().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])
        signature = [{"name": "x", "dtype": "float64"}]
        store.models.register(
            admin, "churn", model, task="regression", algorithm="linear", signature=signature
        )
        store.models.set_alias(admin, "churn", "production", 1)
        store.recipes.save(admin, "monthly-clean", [{"op": "drop_duplicates"}])
        store.dashboards.save(
            admin,
            {
                "name": "sales-overview",
                "title": "Sales",
                "bindings": {"datasets": {"s": "sales"}},
                "kpis": [{"id": "n", "dataset": "s", "agg": "count"}],
            },
        )
        store.tenants.add_member(admin, "alice", Role.VIEWER)
        yield live


@pytest.mark.parametrize("role", list(EXAMPLES), ids=lambda r: r.value)
def test_no_server_errors_and_no_answer_against_the_document(
    server: LiveServer, role: Role
) -> None:
    token = server.token_for("acme", f"{role.value}-user", role)
    session = server.session(token)
    document = session.get(server.api("/openapi.json"), timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    base_url = server.api("")
    failures: list[str] = []
    operations = 0
    # Deletes last, so that the other operations find the example resources.
    ordered = sorted(
        (r.ok() for r in schema.get_all_operations()), key=lambda o: o.method == "delete"
    )
    for operation in ordered:
        operations += 1

        @settings(
            max_examples=EXAMPLES[role],
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            case.call_and_validate(base_url=base_url, session=session, checks=CHECKS)

        try:
            call()
        except Exception as exc:  # every operation runs; all failures are listed at the end
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    assert operations == sum(len(item) for item in document["paths"].values())
    assert not failures, "\n\n".join(failures)
