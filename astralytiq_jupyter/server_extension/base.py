"""The base of every route: authentication, the principal, the route's permission, the one
mapping of core errors to HTTP, JSON bodies and running core calls off the event loop.

Authentication and authorization happen in :meth:`ApiHandler.prepare`, for every route
alike, because streaming uploads must refuse a request before its body is read and a
decorator on ``post`` runs only after that.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..core.errors import AstralytiqError, Forbidden, Invalid, code_for_status
from ..core.limits import parse_json
from ..core.permissions import Principal
from ..core.tokens import looks_like_token
from . import metrics
from .admission import Pass, Withdrawn
from .operations import PLATFORM, PUBLIC, Operation, Route
from .params import Param

if TYPE_CHECKING:
    from .app import AstralytiQ

T = TypeVar("T")
TENANT_HEADER = "X-AstralytiQ-Tenant"
#: Query parameters jupyter_server itself reads on any request (URL token login, XSRF form).
JUPYTER_QUERY = frozenset({"token", "_xsrf"})
JSON_TYPE = "application/json"

#: Refusals of tornado's own that no core error class stands for.
_HTTP_CODES = {405: "method_not_allowed"}


def error_body(status_code: int, exc: BaseException | None, reason: str) -> dict[str, Any]:
    """The JSON body of an API error (``{error, message, detail?}``), the one shape every
    API answer that is not a success has."""
    if isinstance(exc, AstralytiqError):
        return exc.to_dict()
    if isinstance(exc, web.HTTPError):
        # tornado's own refusals (unknown path, wrong verb, body too large) get the code
        # of the error class with their status.
        code = code_for_status(status_code) or _HTTP_CODES.get(status_code, "error")
        return {"error": code, "message": exc.log_message or reason}
    return {"error": "error", "message": "Internal server error."}


def public_request(handler: ApiHandler) -> bool:
    """Whether a request to a public route came without valid credentials (so it gets
    only what anyone may see)."""
    return not handler.authenticated


def _open(method: Callable[..., Any]) -> Callable[..., Any]:
    """Let the request through jupyter_server's own gate; :meth:`ApiHandler.prepare` then
    authenticates it (jupyter identity or platform token) before anything else runs."""
    return allow_unauthenticated(method)


class ApiHandler(ExtensionHandlerMixin, APIHandler):
    """Base handler. Subclasses implement verbs and read ``self.principal``."""

    route: Route
    principal: Principal
    operation: Operation
    authenticated = False  # set once the caller's credentials are known to be valid
    #: The query parameters given, converted and checked (absent ones are missing).
    params: dict[str, Any]

    def initialize(self, name: str, route: Route | None = None) -> None:  # type: ignore[override]
        super().initialize(name)
        assert route is not None
        self.route = route
        self._token_principal: Principal | None = None
        self._started = time.perf_counter()
        self._pass: Pass | None = None  # this request's place among its tenant's long ones
        self._long_calls = 0  # long work running in threads for this request
        self._closed = False
        self._body: dict[str, Any] | None = None  # the JSON body, once checked

    # jupyter_server refuses unauthenticated requests for undecorated methods; every verb
    # here is decorated and authentication is enforced in prepare() instead.
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for verb in ("get", "post", "put", "patch", "delete"):
            method = cls.__dict__.get(verb)
            if method is not None:
                setattr(cls, verb, _open(method))

    @property
    def app(self) -> AstralytiQ:
        return self.settings["astralytiq"]

    # -- authentication and authorization ------------------------------------------------
    async def prepare(self) -> None:  # type: ignore[override]
        operation = self.route.operations.get(self.request.method or "")
        public = operation is not None and operation.permission == PUBLIC
        credential = self._bearer()
        if credential is not None:
            resolver = self.app.resolver
            principal = resolver.cached_token(credential)
            if principal is None:
                principal = await self.run(resolver.authenticate_token, credential)
            if principal is None and not public:
                raise web.HTTPError(403, "The API token is invalid, expired or revoked.")
            self._token_principal = principal
        await super().prepare()
        if self._finished:
            return
        if operation is None:
            raise web.HTTPError(405)
        self.operation = operation
        if public:
            await self._prepare_public()
            return
        if self._token_principal is not None:
            self.principal = self._token_principal
        else:
            if self.current_user is None:
                raise web.HTTPError(403)
            action = operation.authorizer_action(self.request.method or "GET")
            if not self.authorizer.is_authorized(
                self, self.current_user, action, f"astralytiq:{self.route.area}"
            ):
                raise web.HTTPError(403)
            tenant = self.request.headers.get(TENANT_HEADER) or None
            resolver = self.app.resolver
            principal = resolver.cached(self.current_user, tenant)
            if principal is None:
                principal = await self.run(resolver.resolve_and_cache, self.current_user, tenant)
            self.principal = principal
        self.authenticated = True
        await self._authorize(operation)
        if self.request.method == "GET" and self._token_principal is None:
            # A browser session gets its XSRF cookie here as on every Jupyter page: a page
            # that sets none (Voila's) can then send writes, e.g. the streamed upload.
            self.xsrf_token  # noqa: B018 - the property sets the cookie
        self.params = self._parse_query(operation)
        if operation.body is not None:
            # Checked here, before the call is counted or takes a long-work place.
            self._body = self._parse_body(operation)
        meter = self.app.store.usage
        if meter.is_warm(self.principal):
            meter.count_call(self.principal)
        else:
            await self.run(meter.count_call, self.principal)
        if operation.long:
            await self._admit_long()

    async def _admit_long(self) -> None:
        """Take a place among the tenant's long requests, waiting for one if need be (429
        with ``Retry-After`` when too many already wait; see :mod:`.admission`)."""
        self._pass = self.app.long_gate.enter(self.principal.tenant)
        try:
            await self._pass.wait()
        except Withdrawn:
            raise web.Finish() from None  # the client left while waiting: nothing to answer

    async def _prepare_public(self) -> None:
        """A public route: anyone gets an answer; whether the caller is authenticated is
        known (``authenticated``), without tenant resolution or metering."""
        self.params = self._parse_query(self.operation)
        self.authenticated = self._token_principal is not None or self.current_user is not None

    async def _authorize(self, operation: Operation) -> None:
        """Refuse (403) and audit when the principal lacks the route's permission."""
        principal = self.principal
        if operation.permission is None:
            return
        if operation.permission == PLATFORM:
            allowed = principal.platform_owner
            reason = "Only the platform owner may do this."
        else:
            missing = [p for p in operation.permissions if not principal.can(p)]
            allowed = not missing
            reason = (
                f"Your role '{principal.role.value}' in tenant '{principal.tenant}' does "
                f"not allow '{missing[0].value if missing else ''}'."
            )
        if not allowed:
            await self.run(
                self.app.store.audit.denied,
                principal,
                operation.id,
                self.request.path[:255],
                reason,
            )
            raise Forbidden(reason)

    def _parse_query(self, operation: Operation) -> dict[str, Any]:
        """The operation's query parameters, typed and checked against their declared
        bounds before any work starts; unknown, repeated and empty ones are refused."""
        arguments = self.request.query_arguments
        names = operation.query_names
        unknown = sorted(set(arguments) - set(names) - JUPYTER_QUERY)
        if unknown:
            raise Invalid(
                f"Unknown query parameter(s): {', '.join(unknown)}; this operation takes "
                f"{', '.join(names) or 'none'}.",
                parameters=unknown,
            )
        values: dict[str, Any] = {}
        for param in operation.query:
            given = arguments.get(param.name)
            if not given:
                continue
            if param.repeated:
                if param.max_items is not None and len(given) > param.max_items:
                    raise Invalid(
                        f"Query parameter '{param.name}' is given {len(given):,} times; "
                        f"at most {param.max_items:,} values are allowed.",
                        parameter=param.name,
                    )
                values[param.name] = [param.parse_query(_utf8(param, v)) for v in given]
                continue
            if len(given) > 1:
                raise Invalid(
                    f"Query parameter '{param.name}' is given {len(given)} times; give it once.",
                    parameter=param.name,
                )
            values[param.name] = param.parse_query(_utf8(param, given[0]))
        return values

    def _bearer(self) -> str | None:
        """A platform token from ``Authorization: Bearer aqt_...``, else ``None`` (other
        credentials are jupyter_server's to check)."""
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and looks_like_token(value):
            return value
        return None

    def check_xsrf_cookie(self) -> None:
        # A bearer token is not sent by browsers on their own, so it cannot be forged
        # cross-site; every other request keeps jupyter_server's XSRF protection.
        if self._token_principal is not None:
            return
        super().check_xsrf_cookie()

    # -- helpers for subclasses ------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking core work in a worker thread, never on the event loop: on the
        long-work pool once a long request is admitted, else on the short requests' pool."""
        call = functools.partial(fn, *args, **kwargs)
        if self._pass is None:
            return await asyncio.to_thread(call)
        context = contextvars.copy_context()
        self._long_calls += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.app.long_executor, context.run, call)
        finally:
            self._long_calls -= 1
            self._leave_when_done()

    def _leave_when_done(self) -> None:
        """Give the tenant's place back once the request is over (answered, or its client
        gone) and no work of it still runs: work a client left behind keeps its place."""
        if self._pass is not None and self._long_calls == 0 and (self._finished or self._closed):
            self._pass.leave()
            self._pass = None

    async def run_on(self, executor: Executor, fn: Callable[..., T], *args: Any) -> T:
        """Like :meth:`run`, on a dedicated pool (e.g. the bounded prediction workers)."""
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def json_body(self) -> dict[str, Any]:
        """The JSON object body, as checked by :meth:`prepare` (see :meth:`_parse_body`)."""
        if self._body is None:
            self._body = self._parse_body(self.operation)
        return self._body

    def _parse_body(self, operation: Operation) -> dict[str, Any]:
        """The JSON object body, checked against the operation's declared fields: its size
        and nesting within the server's JSON limits (before parsing), no unknown fields (so
        ``tenant_id`` or ``created_by`` can never be assigned through the API), every
        required one present and each of its declared type and bounds. ``null`` fields are
        dropped (they mean "not given")."""
        fields = {p.name: p for p in operation.body or ()}
        limits = self.app.store.config.json_limits
        body = parse_json(
            self.request.body or b"{}", "The request body", limits.max_depth, limits.max_bytes
        )
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        unknown = sorted(set(body) - set(fields))
        if unknown:
            raise Invalid(
                f"Unknown field(s): {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(fields)) or 'none'}.",
                fields=unknown,
            )
        missing = [n for n, p in fields.items() if p.required and body.get(n) is None]
        if missing:
            raise Invalid(f"Missing field(s): {', '.join(missing)}.", fields=missing)
        checked = {name: fields[name].check_body(value) for name, value in body.items()}
        return {name: value for name, value in checked.items() if value is not None}

    def version_arg(self, value: str) -> int:
        """A version number from the path."""
        if not value.isdigit() or value.startswith("0") or len(value) > 9:
            raise Invalid(f"Invalid version {value!r}: give a version number like 3.")
        return int(value)

    def reply(self, data: Any, status: int = 200) -> None:
        """Finish with a JSON body (objects with ``to_dict`` are converted)."""
        self.set_status(status)
        self.finish(json.dumps(_plain(data), default=str))

    def page(self, items: list[Any], limit: int, offset: int) -> None:
        self.reply(
            {
                "items": items,
                "limit": limit,
                "offset": offset,
                "next_offset": offset + limit if len(items) == limit else None,
            }
        )

    # -- errors and metrics ----------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, AstralytiqError):
            status_code = exc.http_status  # the status its class states
            self.set_status(status_code)
            retry_after = exc.detail.get("retry_after")
            if retry_after is not None:
                self.set_header("Retry-After", str(retry_after))
        if status_code == 405:
            # Set here: tornado clears every header before an error is written.
            self.set_header("Allow", ", ".join(self.route.operations))
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(error_body(status_code, exc, self._reason), default=str))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, AstralytiqError):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)

    def on_finish(self) -> None:
        operation = getattr(self, "operation", None)
        metrics.observe_request(
            operation.id if operation else "unrouted",
            self.request.method or "",
            self.get_status(),
            time.perf_counter() - self._started,
        )
        self._leave_when_done()
        super().on_finish()

    def on_connection_close(self) -> None:
        self._closed = True
        self._leave_when_done()
        super().on_connection_close()


class PageHandler(ApiHandler):
    """``GET`` of a collection: the operation's query parameters, typed and bounded by the
    route table, go by name to the core service's ``list``; the answer is one page."""

    #: The store service whose ``list`` serves the collection (``datasets``, ``audit``...).
    service: str

    async def get(self) -> None:
        query = {"limit": 100, "offset": 0, **self.params}
        listing = getattr(self.app.store, self.service).list
        items = await self.run(listing, self.principal, **query)
        self.page(items, query["limit"], query["offset"])


def _plain(data: Any) -> Any:
    if hasattr(data, "to_dict"):
        return data.to_dict()
    if isinstance(data, list):
        return [_plain(x) for x in data]
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    return data


class UnknownPathHandler(ExtensionHandlerMixin, APIHandler):
    """Any path under ``astralytiq/api`` that no route serves, the prefix itself included:
    a JSON 404 like every other API error, never Jupyter's HTML page or a redirect."""

    async def prepare(self) -> None:  # type: ignore[override]
        # Before jupyter_server's own prepare: nothing is served here, so there is nothing
        # to authenticate or to protect from cross-site requests.
        raise web.HTTPError(404, f"No API operation at {self.request.path}; see openapi.json.")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(error_body(status_code, exc, self._reason)))


def _utf8(param: Param, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(
            f"Query parameter '{param.name}' is not valid UTF-8.", parameter=param.name
        ) from None
