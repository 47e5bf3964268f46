"""Names users give to things, and references to their versions.

A reference is ``name`` (latest version), ``name@3`` (version 3) or ``name@production``
(an alias, for models). Names never reach a filesystem path; they are still held to a
strict alphabet so that they read well in URLs, code and audit logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Invalid
from .limits import MAX_INT32

_NAME = re.compile(r"^[^\W_][\w.\-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is a valid resource name, else raise :class:`Invalid`."""
    if not isinstance(name, str) or not name:
        raise Invalid(f"The {what} must be a non-empty string.")
    if "\x00" in name or "/" in name or "\\" in name or ".." in name or not _NAME.match(name):
        raise Invalid(
            f"Invalid {what} {name!r}: use 1-128 letters, digits, '_', '-' or '.', starting with "
            "a letter or digit (no path separators, '..', '@' or spaces).",
            name=name,
        )
    return name


def check_slug(slug: object) -> str:
    """Tenant slugs: lowercase letters, digits and inner hyphens (they appear in group names)."""
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise Invalid(
            f"Invalid tenant slug {slug!r}: use 1-63 lowercase letters, digits or '-', "
            "not starting or ending with '-'.",
            slug=slug,
        )
    return slug


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.isdigit():
        raise Invalid(
            f"Invalid alias {alias!r}: use a letter followed by letters, digits, '_' or '-'.",
            alias=alias,
        )
    return alias


@dataclass(frozen=True)
class Ref:
    """A parsed reference to a version: exactly one of ``version``/``alias`` or neither."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_ref(ref: str | Ref, *, allow_alias: bool = False, what: str = "dataset") -> Ref:
    """Parse ``name``, ``name@N`` or (models) ``name@alias``."""
    if isinstance(ref, Ref):
        return ref
    if not isinstance(ref, str):
        raise Invalid(f"A {what} reference must be a string like 'sales' or 'sales@3'.")
    name, sep, tail = ref.partition("@")
    check_name(name, f"{what} name")
    if not sep:
        return Ref(name)
    if tail.isdigit() and not tail.startswith("0"):
        if len(tail) > 10 or int(tail) > MAX_INT32:
            raise Invalid(f"Invalid {what} reference {ref!r}: no version is numbered that high.")
        return Ref(name, version=int(tail))
    if allow_alias:
        return Ref(name, alias=check_alias(tail))
    raise Invalid(
        f"Invalid {what} reference {ref!r}: after '@' give a version number, e.g. '{name}@2'.",
        ref=ref,
    )
