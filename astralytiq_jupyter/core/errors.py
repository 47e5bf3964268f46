"""The errors every layer speaks.

Core services raise these; the server extension maps each class to one HTTP status
(see ``server_extension.errors``) and the widgets show ``str(error)`` to the user. Messages
are written for people: they say what was wrong and, where possible, how to fix it.
"""

from __future__ import annotations

from typing import Any


class AstralytiqError(Exception):
    """Base class. ``detail`` carries structured context (step index, column, limit...)."""

    code = "error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            **({"detail": self.detail} if self.detail else {}),
        }


class NotFound(AstralytiqError):
    """The resource does not exist *for this principal* (other tenants' resources included)."""

    code = "not_found"


class FileMissing(NotFound):
    """A version exists but its stored file does not (lost or deleted outside the
    platform); the message names the version and points at ``astralytiq verify``."""

    code = "file_missing"


class StoreMismatch(AstralytiqError):
    """The metadata database and the byte storage are not the two halves of one store."""

    code = "store_mismatch"


class Forbidden(AstralytiqError):
    """The principal's role does not grant the permission."""

    code = "forbidden"


class Invalid(AstralytiqError):
    """The input is malformed or violates a rule; nothing was changed."""

    code = "invalid"


class Conflict(AstralytiqError):
    """The request conflicts with current state (name taken, concurrent change)."""

    code = "conflict"


class QuotaExceeded(AstralytiqError):
    """The tenant's plan does not allow this (count, bytes, rate)."""

    code = "quota_exceeded"


class Cancelled(AstralytiqError):
    """Long-running work was cancelled by the caller."""

    code = "cancelled"
