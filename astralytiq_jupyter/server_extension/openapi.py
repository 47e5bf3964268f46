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
from . import params as Q
from .codecs import MAX_JSON_RECORDS
from .operations import JSON, PLATFORM, PUBLIC, Operation
from .routes import api_routes

PATH = Path(__file__).resolve().parent / "openapi.json"
#: Path parameters: their schema and meaning.
_PATH_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "ref": (
        {"type": "string", "pattern": Q.REF_PATTERN},
        "A version reference: 'name' (latest), 'name@3' or, for models, 'name@alias'.",
    ),
    "name": (
        {"type": "string", "pattern": Q.NAME_PATTERN},
        "A resource name: 1-128 letters, digits, '_', '-' or '.', starting with a letter or "
        "digit, without '..'.",
    ),
    "alias": ({"type": "string", "pattern": Q.ALIAS_PATTERN}, "A model alias, e.g. 'production'."),
    "username": ({"type": "string", "maxLength": 200}, "A member's username."),
    "token_id": ({"type": "string", "maxLength": 64}, "The id of an API token."),
    "slot_id": (
        {"type": "string", "maxLength": 64},
        "The id of a training slot (from POST training/slots).",
    ),
}
#: Typical path values per area, shown in the document (and tried by API fuzzers first).
_PATH_EXAMPLES = {
    "datasets": {"ref": "sales@1", "name": "sales"},
    "models": {"ref": "churn@production", "name": "churn", "alias": "production"},
    "recipes": {"name": "monthly-clean"},
    "dashboards": {"name": "sales-overview"},
    "tenant": {"username": "alice"},
}
_ERRORS = {
    "400": "Invalid input (nothing changed)",
    "403": "Not authenticated, or the role lacks the permission (audited)",
    "404": "Not found (resources of other tenants included)",
    "409": "Conflict with the current state",
    "410": "The version exists but its stored file is missing (operators: `astralytiq verify`)",
    "413": "Upload or storage quota exceeded",
    "429": "Count or rate quota exceeded",
}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "detail": {"type": "object"},
    },
    "required": ["error", "message"],
}
_BINARY = {"type": "string", "format": "binary"}
_TABLE_BODIES = {
    "application/vnd.apache.parquet": {"schema": _BINARY},
    "application/vnd.apache.arrow.stream": {"schema": _BINARY},
    "text/csv": {"schema": {"type": "string"}},
}
#: Request bodies that are not a JSON object of declared fields.
_OTHER_BODIES: dict[str, dict[str, Any]] = {
    "dataset.upload": {
        "description": "The file (mode 'ingest') or a Parquet DataFrame (mode 'save').",
        "content": {"application/octet-stream": {"schema": _BINARY}},
    },
    "model.register": {
        "description": "The skops artifact and its metadata (JSON text).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"artifact": _BINARY, "metadata": {"type": "string"}},
                    "required": ["artifact", "metadata"],
                }
            }
        },
    },
    "model.predict": {
        "description": "Input rows: JSON records, or a Parquet, Arrow IPC stream or CSV table.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "records": {
                            "type": "array",
                            "items": {"type": "object"},
                            "maxItems": MAX_JSON_RECORDS,
                        }
                    },
                    "required": ["records"],
                    "additionalProperties": False,
                }
            },
            **_TABLE_BODIES,
        },
    },
}


def _request_body(op: Operation) -> dict[str, Any] | None:
    if op.id in _OTHER_BODIES:
        return {"required": True, **_OTHER_BODIES[op.id]}
    if op.body is None:
        return None
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            p.name: {**p.schema(in_body=True), "description": p.description} for p in op.body
        },
        "additionalProperties": False,
    }
    required = [p.name for p in op.body if p.required]
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in op.success:
        if status == 204:
            responses["204"] = {"description": "Done (no content)"}
        else:
            content = {media: {"schema": _BINARY if media != JSON else {}} for media in op.produces}
            responses[str(status)] = {
                "description": "Created" if status == 201 else "OK",
                "content": content,
            }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status, text in _ERRORS.items():
        responses[status] = {"description": text, "content": error}
    if op.long:
        responses["429"] = {
            "description": f"{_ERRORS['429']}, or too many long requests of the tenant "
            "running and waiting (retry after the seconds of Retry-After)",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": error,
        }
    return responses


def build() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route and verb."""
    paths: dict[str, Any] = {}
    for route in api_routes():
        item: dict[str, Any] = {}
        examples = _PATH_EXAMPLES.get(route.area, {})
        refs = Q.DATASET_REF_PATTERN if route.area == "datasets" else Q.REF_PATTERN
        params = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {**_PATH_PARAMS[p][0], **({"pattern": refs} if p == "ref" else {})},
                "description": _PATH_PARAMS[p][1],
                **({"example": examples[p]} if p in examples else {}),
            }
            for p in re.findall(r"\{(\w+)\}", route.template)
        ]
        for method, op in route.operations.items():
            if op.permission == PLATFORM:
                needs = "platform owner"
            elif op.permission == PUBLIC:
                needs = "nothing (no credentials needed)"
            elif op.permission is None:
                needs = "any authenticated caller"
            else:
                needs = ", ".join(p.value for p in op.permissions)
            document: dict[str, Any] = {
                "operationId": op.id,
                "summary": op.summary,
                "description": f"Requires: {needs}. Other query parameters, and repeated or "
                "empty ones, are refused (400).",
                "x-permission": needs,
                "parameters": params + [q.query_document() for q in op.query],
                "responses": _responses(op),
            }
            body = _request_body(op)
            if body is not None:
                document["requestBody"] = body
            if op.permission == PUBLIC:
                # Credentials optional: {} lets a caller without any through.
                document["security"] = [{}, {"jupyter": []}, {"platformToken": []}]
            item[method.lower()] = document
        paths[route.template] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AstralytiQ for Jupyter",
            "version": __version__,
            "description": "Tenant-aware REST API of the AstralytiQ server extension. "
            "Errors are JSON: {error, message, detail?}. A method a path does not take answers "
            "405 with an Allow header.",
        },
        "servers": [
            {"url": "{base_url}astralytiq/api", "variables": {"base_url": {"default": "/"}}}
        ],
        "components": {
            "schemas": {"Error": _ERROR_SCHEMA},
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
            },
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
