"""Dataset and model pickers: a name, then a version (or "latest", or a model alias)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..core.names import parse_ref
from . import format as fmt

if TYPE_CHECKING:
    from ..client.workspace import Workspace

__all__ = ["DatasetPicker", "ModelPicker"]

LATEST = "latest"
_LIST_PAGE = 100
_LIST_MAX = 2000  # more than any pick list can usefully show; search narrows it


def split_ref(ref: str) -> tuple[str, str | None]:
    """``("sales", "3")`` of ``sales@3``; ``("churn", "production")`` of an alias."""
    parsed = parse_ref(ref, allow_alias=True)
    tail = parsed.alias if parsed.alias is not None else parsed.version
    return parsed.name, None if tail is None else str(tail)


def _all(list_page: Callable[..., list[Any]]) -> list[Any]:
    items: list[Any] = []
    while len(items) < _LIST_MAX:
        page = list_page(limit=_LIST_PAGE, offset=len(items))
        items.extend(page)
        if len(page) < _LIST_PAGE:
            break
    return items


class _Picker(W.HBox):
    """Two dropdowns (name, version) and a ``ref`` property; ``on_change(callback)``."""

    kind = "item"

    def __init__(
        self, ws: Workspace, ref: str | None = None, *, label: str, allow_latest: bool = True
    ) -> None:
        self.ws = ws
        self.allow_latest = allow_latest
        self.name = W.Dropdown(
            description=label,
            options=[],
            layout=W.Layout(width="300px"),
            style={"description_width": "initial"},
        )
        self.version = W.Dropdown(
            description="Version",
            options=[],
            layout=W.Layout(width="220px"),
            style={"description_width": "initial"},
        )
        self.refresh_button = W.Button(
            icon="refresh", tooltip="Reload the list", layout=W.Layout(width="36px")
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._callbacks: list[Callable[[str | None], None]] = []
        self._quiet = False
        super().__init__(
            [self.name, self.version, self.refresh_button],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.name.observe(self._on_name, names="value")
        self.version.observe(self._on_version, names="value")
        self.refresh(select=ref)

    # subclasses: the names, and the version options of one name
    def _names(self) -> list[str]:
        raise NotImplementedError

    def _versions(self, name: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    @property
    def ref(self) -> str | None:
        """The picked reference (``name``, ``name@3`` or ``name@alias``), or None."""
        if not self.name.value:
            return None
        choice = self.version.value
        return self.name.value if choice in (None, LATEST) else f"{self.name.value}@{choice}"

    def on_change(self, callback: Callable[[str | None], None]) -> None:
        self._callbacks.append(callback)

    def select(self, ref: str | None) -> None:
        """Pick ``ref`` (refreshing the lists if the name is new)."""
        if ref is None:
            return
        name, version = split_ref(ref)
        if name not in (self.name.options or ()):
            self.refresh(select=ref)
            return
        self._quiet = True
        try:
            self.name.value = name
            self._fill_versions(name)
        finally:
            self._quiet = False
        wanted = LATEST if version is None else version
        values = [v for _label, v in self.version.options]
        self.version.value = wanted if wanted in values else values[0] if values else None
        self._emit()

    def refresh(self, select: str | None = None) -> None:
        current = select or self.ref
        names = self._names()
        self._quiet = True
        try:
            self.name.options = names
            wanted = split_ref(current)[0] if current else None
            self.name.value = wanted if wanted in names else (names[0] if names else None)
            self._fill_versions(self.name.value)
            if current and self.name.value == wanted:
                version = split_ref(current)[1]
                values = [v for _label, v in self.version.options]
                if version is not None and version in values:
                    self.version.value = version
        finally:
            self._quiet = False
        self.name.disabled = self.version.disabled = not names
        self._emit()

    def _fill_versions(self, name: str | None) -> None:
        self.version.options = self._versions(name) if name else []
        if self.version.options:
            self.version.value = self.version.options[0][1]

    def _on_name(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._quiet = True
        try:
            self._fill_versions(change["new"])
        finally:
            self._quiet = False
        self._emit()

    def _on_version(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._emit()

    def _emit(self) -> None:
        for callback in self._callbacks:
            callback(self.ref)


class DatasetPicker(_Picker):
    kind = "dataset"

    def __init__(
        self,
        ws: Workspace,
        ref: str | None = None,
        *,
        label: str = "Dataset",
        allow_latest: bool = True,
    ) -> None:
        super().__init__(ws, ref, label=label, allow_latest=allow_latest)

    def _names(self) -> list[str]:
        return sorted(s.name for s in _all(self.ws.datasets.list))

    def _versions(self, name: str) -> list[tuple[str, str]]:
        versions = sorted(self.ws.datasets.versions(name), key=lambda v: -v.version)
        options = [
            (f"v{v.version} · {fmt.count(v.rows)} rows · {v.created_at:%Y-%m-%d}", str(v.version))
            for v in versions
        ]
        if self.allow_latest and versions:
            options.insert(0, (f"latest (v{versions[0].version})", LATEST))
        return options


class ModelPicker(_Picker):
    kind = "model"

    def __init__(
        self,
        ws: Workspace,
        ref: str | None = None,
        *,
        label: str = "Model",
        allow_latest: bool = True,
    ) -> None:
        super().__init__(ws, ref, label=label, allow_latest=allow_latest)

    def _names(self) -> list[str]:
        return sorted(s.name for s in _all(self.ws.models.list))

    def _versions(self, name: str) -> list[tuple[str, str]]:
        versions = sorted(self.ws.models.versions(name), key=lambda v: -v.version)
        options: list[tuple[str, str]] = []
        for v in versions:
            for alias in sorted(v.aliases):
                options.append((f"{alias} (v{v.version})", alias))
        if self.allow_latest and versions:
            options.insert(0, (f"latest (v{versions[0].version})", LATEST))
        options.extend(
            (f"v{v.version} · {v.algorithm} · {v.created_at:%Y-%m-%d}", str(v.version))
            for v in versions
        )
        return options
