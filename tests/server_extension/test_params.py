"""Every numeric parameter of the API is bounded, checked before any work, and documented:
walked from the route table (``server_extension.routes``), so a parameter added later is
covered without a new test. Each refusal is a 400 naming the parameter and its range, and
the server keeps answering ``/health`` quickly meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from astralytiq_jupyter.core.upload_query import QUERY_PARAMETERS
from astralytiq_jupyter.server_extension import params as Q
from astralytiq_jupyter.server_extension.openapi import build
from astralytiq_jupyter.server_extension.operations import Operation, Route
from astralytiq_jupyter.server_extension.params import Param
from astralytiq_jupyter.server_extension.routes import api_routes

from .live import LiveServer, live_server

ROUTES = api_routes()
OPERATIONS = [(r, m, op) for r in ROUTES for m, op in r.operations.items()]
HUGE = str(10**30)
PATH_VALUES = {"ref": "sales", "name": "sales", "alias": "production", "username": "u"}
PATH_VALUES["token_id"] = PATH_VALUES["slot_id"] = "0" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("params"), "sqlite") as live:
        yield live


def url(server: LiveServer, route: Route) -> str:
    return server.api(route.template.format(**PATH_VALUES))


def owner(server: LiveServer) -> requests.Session:
    return server.session(server.token)


def filler(param: Param) -> Any:
    """A value of the right type for a required field that is not the one under test."""
    return {
        "string": "x",
        "array": [],
        "object": {},
        "integer": param.minimum,
        "number": param.minimum,
        "any": [],
    }[param.kind]


def bad_query_values(param: Param) -> list[str]:
    assert param.minimum is not None and param.maximum is not None
    return [
        str(int(param.minimum) - 1),
        str(int(param.maximum) + 1),
        HUGE,
        "-" + HUGE,
        "",
        "abc",
        "1.5",
        "1e3",
    ]


def bad_body_values(param: Param) -> list[Any]:
    assert param.minimum is not None and param.maximum is not None
    values: list[Any] = [param.minimum - 1, param.maximum + 1, 10**30, "abc", True, [1], {}]
    values += [1.5] if param.kind == "integer" else ["1e400"]
    return values


def test_every_numeric_parameter_is_bounded_and_documented() -> None:
    document = build()
    for route, method, op in OPERATIONS:
        documented = document["paths"][route.template][method.lower()]
        for param in op.query + (op.body or ()):
            if param.kind in ("integer", "number", "integers"):
                assert param.minimum is not None and param.maximum is not None, (op.id, param)
        for listed in documented["parameters"]:
            if listed["in"] != "query":
                continue
            schema = listed["schema"]
            if schema.get("type") == "integer":
                assert {"minimum", "maximum"} <= set(schema), (op.id, listed["name"])
        body = documented.get("requestBody", {}).get("content", {}).get("application/json")
        if op.body is not None:
            properties = body["schema"]["properties"]
            assert set(properties) == {p.name for p in op.body}
            for param in op.body:
                if param.kind in ("integer", "number"):
                    assert properties[param.name]["maximum"] == param.maximum


def _query_cases() -> list[tuple[Route, str, Operation, Param]]:
    return [(r, m, op, p) for r, m, op in OPERATIONS for p in op.query if p.kind == "integer"]


@pytest.mark.parametrize(
    ("route", "method", "op", "param"),
    _query_cases(),
    ids=[f"{op.id}-{p.name}" for _, _, op, p in _query_cases()],
)
def test_numeric_query_parameters_out_of_bounds_are_refused(
    server: LiveServer, route: Route, method: str, op: Operation, param: Param
) -> None:
    session = owner(server)
    for value in bad_query_values(param):
        response = session.request(
            method, url(server, route), params={param.name: value}, timeout=30
        )
        assert response.status_code == 400, (op.id, param.name, value, response.text)
        message = response.json()["message"]
        assert f"Query parameter '{param.name}'" in message, message
        if value:
            assert f"from {int(param.minimum):,} to {int(param.maximum):,}" in message


def _body_cases() -> list[tuple[Route, str, Operation, Param]]:
    return [
        (r, m, op, p)
        for r, m, op in OPERATIONS
        for p in op.body or ()
        if p.kind in ("integer", "number")
    ]


@pytest.mark.parametrize(
    ("route", "method", "op", "param"),
    _body_cases(),
    ids=[f"{op.id}-{p.name}" for _, _, op, p in _body_cases()],
)
def test_numeric_body_fields_out_of_bounds_are_refused(
    server: LiveServer, route: Route, method: str, op: Operation, param: Param
) -> None:
    session = owner(server)
    base = {p.name: filler(p) for p in op.body or () if p.required and p is not param}
    for value in bad_body_values(param):
        response = session.request(
            method, url(server, route), json={**base, param.name: value}, timeout=30
        )
        assert response.status_code == 400, (op.id, param.name, value, response.text)
        assert f"Field '{param.name}' must be" in response.json()["message"]
    # 1e400 as a JSON number is infinity to Python's parser: still refused.
    raw = json.dumps({**base, param.name: 0}).replace(
        f'"{param.name}": 0', f'"{param.name}": 1e400'
    )
    response = session.request(
        method,
        url(server, route),
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert f"Field '{param.name}' must be" in response.json()["message"]


def test_health_answers_while_bounds_are_refused(server: LiveServer) -> None:
    session = owner(server)
    hostile = [
        ("GET", "/datasets/sales/clusters", {"k_max": HUGE}),
        ("GET", "/datasets/sales/clusters", {"k": "2," * 99 + "2"}),
        ("GET", "/datasets/sales/profile", {"bins": "20000000"}),
        ("GET", "/datasets", {"offset": HUGE}),
        ("GET", "/audit", {"since": "9999-12-31T23:59:59-14:00"}),
    ]
    for method, path, params in hostile * 3:
        started = time.perf_counter()
        assert session.request(method, server.api(path), params=params, timeout=30).status_code in (
            400,
            404,
        )
        health = session.get(server.api("/health"), timeout=30)
        assert health.status_code == 200
        assert time.perf_counter() - started < 5


def test_empty_and_repeated_parameters_are_refused(server: LiveServer) -> None:
    session = owner(server)
    empty = session.get(server.api("/datasets?limit="), timeout=30)
    assert empty.status_code == 400
    assert "'limit' is empty" in empty.json()["message"]
    twice = session.get(server.api("/datasets?limit=1&limit=2"), timeout=30)
    assert twice.status_code == 400 and "given 2 times" in twice.json()["message"]
    flag = session.get(server.api("/tokens?include_inactive=yes"), timeout=30)
    assert flag.status_code == 400 and "'true' or 'false'" in flag.json()["message"]
    outcome = session.get(server.api("/audit?outcome=maybe"), timeout=30)
    assert outcome.status_code == 400 and "ok, denied, error" in outcome.json()["message"]
    # Free text may be empty: an empty search lists everything.
    assert session.get(server.api("/datasets?search="), timeout=30).status_code == 200


def test_unsupported_methods_answer_405_with_allow(server: LiveServer) -> None:
    session = owner(server)
    for route in ROUTES:
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(route.operations):
            response = session.request(method, url(server, route), timeout=30)
            assert response.status_code == 405, (route.template, method)
            assert set(response.headers["Allow"].split(", ")) == set(route.operations)
            assert response.json()["error"] == "method_not_allowed"


def test_documented_success_statuses_match_the_server(server: LiveServer) -> None:
    """DELETE of a recipe, dashboard, alias, member or token answers 204, as documented."""
    document = build()
    for route, method, op in OPERATIONS:
        responses = document["paths"][route.template][method.lower()]["responses"]
        assert {str(s) for s in op.success} <= set(responses)
        if method == "DELETE" and route.template in (
            "/recipes/{name}",
            "/dashboards/{name}",
            "/models/{name}/aliases/{alias}",
            "/tenant/members/{username}",
            "/tokens/{token_id}",
            "/training/slots/{slot_id}",
        ):
            assert op.success == (204,)
            assert "200" not in responses
    session = owner(server)
    assert session.put(
        server.api("/recipes/r1"), json={"steps": [{"op": "drop_duplicates"}]}, timeout=30
    ).ok
    deleted = session.delete(server.api("/recipes/r1"), timeout=30)
    assert deleted.status_code == 204 and deleted.content == b""


def test_upload_read_options_are_the_codecs_own() -> None:
    """The upload route declares exactly the read options ``core.upload_query`` decodes, so
    every option the clients encode is accepted, bounded and documented."""
    assert tuple(p.name for p in Q.UPLOAD_READ) == QUERY_PARAMETERS
    (nulls,) = [p for p in Q.UPLOAD_READ if p.repeated]
    document = nulls.query_document()
    assert document["schema"]["type"] == "array" and document["explode"] is True
