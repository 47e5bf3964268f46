"""The errors every layer speaks, and the one table of their HTTP statuses and codes.

Core services raise these; each class states its HTTP ``status`` and its wire ``code`` once,
here. The server extension answers an error with ``error.http_status`` and a body naming
``code``; the remote client reads the same table backwards (:func:`error_class`) and raises
the same class again. The widgets show ``str(error)`` to the user. Messages are written for
people: they say what was wrong and, where possible, how to fix it.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: Every error class by its wire code, filled as the classes below are defined.
_BY_CODE: dict[str, type[AstralytiqError]] = {}
#: The class an HTTP status stands for when an answer names no known code (the first class
#: defined with that status, so the most general one).
_BY_STATUS: dict[int, type[AstralytiqError]] = {}


class AstralytiqError(Exception):
    """Base class. ``detail`` carries structured context (step index, column, limit...)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "error"
    #: Statuses some instances are answered with instead (see ``http_status``).
    other_statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must state its own wire code.")
        if cls.code in _BY_CODE:
            raise TypeError(f"{cls.__name__} reuses the code {cls.code!r}.")
        _register(cls)

    @property
    def http_status(self) -> int:
        """The HTTP status the server answers this error with."""
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            **({"detail": self.detail} if self.detail else {}),
        }


def _register(cls: type[AstralytiqError]) -> None:
    _BY_CODE[cls.code] = cls
    for status in (cls.status, *cls.other_statuses):
        _BY_STATUS.setdefault(status, cls)


_register(AstralytiqError)


class NotFound(AstralytiqError):
    """The resource does not exist *for this principal* (other tenants' resources included)."""

    status = 404
    code = "not_found"


class FileMissing(NotFound):
    """A version exists but its stored file does not (lost or deleted outside the
    platform); the message names the version and points at ``astralytiq verify``."""

    # 410: the version's metadata answers 200 but its bytes are gone; 404 would deny the
    # version and a 5xx would invite retries that cannot succeed.
    status = 410
    code = "file_missing"


class StoreMismatch(AstralytiqError):
    """The metadata database and the byte storage are not the two halves of one store."""

    status = 500
    code = "store_mismatch"


class Forbidden(AstralytiqError):
    """The principal's role does not grant the permission (or the caller is not signed in)."""

    status = 403
    code = "forbidden"


class Invalid(AstralytiqError):
    """The input is malformed or violates a rule; nothing was changed."""

    status = 400
    code = "invalid"


class Conflict(AstralytiqError):
    """The request conflicts with current state (name taken, concurrent change)."""

    status = 409
    code = "conflict"


class QuotaExceeded(AstralytiqError):
    """The tenant's plan does not allow this (count, bytes, rate)."""

    #: Too many things or calls: 429; too many bytes (``detail["quota"]`` names one of
    #: ``BYTE_QUOTAS``): 413.
    status = 429
    other_statuses = (413,)
    code = "quota_exceeded"
    BYTE_QUOTAS: ClassVar[frozenset[str]] = frozenset({"upload_bytes", "storage_bytes"})

    @property
    def http_status(self) -> int:
        return 413 if self.detail.get("quota") in self.BYTE_QUOTAS else self.status


class Cancelled(AstralytiqError):
    """Long-running work was cancelled by the caller."""

    status = 409
    code = "cancelled"


def error_classes() -> tuple[type[AstralytiqError], ...]:
    """Every error class, the base first (the table the server and the client read)."""
    return tuple(_BY_CODE.values())


def error_class(code: Any, status: int) -> type[AstralytiqError]:
    """The class an API answer stands for: the one its body's ``code`` names, else the
    one its HTTP ``status`` stands for, else the base class."""
    if isinstance(code, str) and code in _BY_CODE:
        return _BY_CODE[code]
    return _BY_STATUS.get(status, AstralytiqError)


def code_for_status(status: int) -> str | None:
    """The wire code of the most general error class answered with ``status``."""
    cls = _BY_STATUS.get(status)
    return cls.code if cls is not None else None


def statuses() -> dict[int, list[type[AstralytiqError]]]:
    """Each HTTP status an error can be answered with, and the classes that use it."""
    table: dict[int, list[type[AstralytiqError]]] = {}
    for cls in error_classes():
        for status in (cls.status, *cls.other_statuses):
            table.setdefault(status, []).append(cls)
    return dict(sorted(table.items()))
