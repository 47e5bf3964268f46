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
#: Every query parameter an operation declares, with its type and meaning.
_QUERY: dict[str, tuple[str, str]] = {
    "search": ("string", "Case-insensitive substring of the name."),
    "limit": ("integer", "Page size, or (downloads) the number of rows; default 100 for pages."),
    "offset": ("integer", "Items (downloads: rows) to skip."),
    "format": (
        "string",
        "Downloads: parquet, arrow or csv. Uploads: the file format, if not "
        "detected (csv, tsv, excel, json, jsonl, parquet, arrow).",
    ),
    "columns": ("string", "Comma-separated column names."),
    "n": ("integer", "Rows in the sample (1 to 100,000)."),
    "seed": ("integer", "Seed of the random sample (the same seed gives the same rows)."),
    "mode": ("string", "'ingest' (read a file, the default) or 'save' (a Parquet DataFrame)."),
    "filename": ("string", "The uploaded file's name (helps format detection)."),
    "description": ("string", "Description of the dataset."),
    "note": ("string", "Note on this version."),
    "parent": ("string", "Mode 'save': the version this one derives from (lineage)."),
    "recipe": ("string", "Mode 'save': the recipe steps (JSON) that produced it."),
    "bins": ("integer", "Histogram bins per numeric column."),
    "top": ("integer", "Most frequent values listed per column."),
    "k": ("string", "Comma-separated cluster counts to try, e.g. 2,4,8."),
    "k_min": ("integer", "Smallest cluster count (default 2)."),
    "k_max": ("integer", "Largest cluster count (default 10)."),
    "sample": ("integer", "Rows sampled for clustering."),
    "random_state": ("integer", "Seed of the sample and k-means."),
    "action": ("string", "Audit action, e.g. model.register."),
    "actor": ("string", "Username of the actor."),
    "outcome": ("string", "ok, denied or error."),
    "resource": ("string", "Resource, e.g. model:churn@2."),
    "since": ("string", "ISO 8601 time: events at or after."),
    "until": ("string", "ISO 8601 time: events before."),
    "include_inactive": ("boolean", "'true' to list revoked and expired tokens too."),
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
            query = [
                {
                    "name": q,
                    "in": "query",
                    "required": False,
                    "schema": {"type": _QUERY[q][0]},
                    "description": _QUERY[q][1],
                }
                for q in op.query
            ]
            item[method.lower()] = {
                "operationId": op.id,
                "summary": op.summary,
                "description": f"Requires: {needs}. Other query parameters are refused (400).",
                "x-permission": needs,
                "parameters": params + query,
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
