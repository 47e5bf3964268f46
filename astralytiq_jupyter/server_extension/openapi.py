"""Writes ``openapi.json`` from the route table: ``python -m
astralytiq_jupyter.server_extension.openapi``. The file is committed and served at
``{base_url}astralytiq/api/openapi.json``; a test checks it lists exactly the routes served."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .._version import __version__
from .routes import PLATFORM, api_routes

PATH = Path(__file__).resolve().parent / "openapi.json"
_PARAMS = {
    "ref": "A version reference: 'name' (latest), 'name@3' or, for models, 'name@alias'.",
    "name": "A resource name (letters, digits, '_', '-', '.').",
    "alias": "A model alias, e.g. 'production'.",
    "username": "A member's username.",
    "token_id": "The id of an API token.",
}
_ERRORS = {
    "400": "Invalid input (nothing changed)",
    "403": "Not authenticated, or the role lacks the permission (audited)",
    "404": "Not found (resources of other tenants included)",
    "409": "Conflict with the current state",
    "413": "Upload or storage quota exceeded",
    "429": "Count or rate quota exceeded",
}


def build() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route and verb."""
    paths: dict[str, Any] = {}
    for route in api_routes():
        item: dict[str, Any] = {}
        params = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": _PARAMS.get(p, p),
            }
            for p in re.findall(r"\{(\w+)\}", route.template)
        ]
        for method, op in route.operations.items():
            if op.permission == PLATFORM:
                needs = "platform owner"
            elif op.permission is None:
                needs = "any authenticated caller"
            else:
                needs = ", ".join(p.value for p in op.permissions)
            responses = {
                "200": {"description": "OK"},
                **{k: {"description": v} for k, v in _ERRORS.items()},
            }
            item[method.lower()] = {
                "operationId": op.id,
                "summary": op.summary,
                "description": f"Requires: {needs}.",
                "x-permission": needs,
                "parameters": params,
                "responses": responses,
            }
        paths[route.template] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AstralytiQ for Jupyter",
            "version": __version__,
            "description": "Tenant-aware REST API of the AstralytiQ server extension. "
            "Errors are JSON: {error, message, detail?}.",
        },
        "servers": [
            {"url": "{base_url}astralytiq/api", "variables": {"base_url": {"default": "/"}}}
        ],
        "components": {
            "securitySchemes": {
                "jupyter": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "jupyter_server credentials: 'token <server token>', "
                    "a login cookie with XSRF, or JupyterHub OAuth",
                },
                "platformToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A platform API token (aqt_...)",
                },
            }
        },
        "security": [{"jupyter": []}, {"platformToken": []}],
        "paths": paths,
    }


def main() -> int:
    PATH.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
