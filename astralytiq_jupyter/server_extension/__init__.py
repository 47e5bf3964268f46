"""Jupyter server extension: the REST API over the core services."""

from __future__ import annotations

from .app import AstralytiQ

__all__ = ["AstralytiQ"]
