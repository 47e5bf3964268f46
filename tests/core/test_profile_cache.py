"""Profiles computed once per stored content and options, shared by every caller allowed to
read the version and by requests arriving while one is being computed."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from astralytiq_jupyter.core.errors import Invalid, NotFound
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.profile_cache import ProfileCache
from astralytiq_jupyter.core.profiling import Profile, profile

from ..conftest import workspace_for

FRAME = pd.DataFrame({"region": ["north", "south", None, "north"], "amount": [1.0, None, 3, 3]})


def test_a_version_is_profiled_once_per_options_and_each_caller_gets_its_own_copy(
    ws, store
) -> None:
    version = ws.datasets.save(FRAME, "sales")
    first = ws.datasets.profile(version.ref)
    again = ws.datasets.profile("sales")  # the same version by another name
    assert store.datasets.profiles.computed == 1
    assert again.to_dict() == first.to_dict() and again is not first
    assert first.issues
    first.issues.clear()  # a caller changing its copy changes nobody else's
    assert ws.datasets.profile(version.ref).issues == again.issues
    assert store.datasets.profiles.computed == 1
    coarse = ws.datasets.profile(version.ref, bins=3)
    assert store.datasets.profiles.computed == 2 and coarse.settings["bins"] == 3
    store.datasets.profiles.clear()
    ws.datasets.profile(version.ref)
    assert store.datasets.profiles.computed == 3


def test_a_cached_profile_still_needs_access_to_the_version(ws, store) -> None:
    version = ws.datasets.save(FRAME, "sales")
    ws.datasets.profile(version.ref)
    other = workspace_for(store, "other", "olga", Role.ADMIN)
    with pytest.raises(NotFound):
        other.datasets.profile(version.ref)
    other.datasets.save(FRAME, "sales")  # the same content in another tenant: its own version
    assert other.datasets.profile("sales").to_dict() == ws.datasets.profile("sales").to_dict()
    assert store.datasets.profiles.computed == 1  # one content, one computation


def test_bad_options_are_refused_and_nothing_is_cached(ws, store) -> None:
    version = ws.datasets.save(FRAME, "sales")
    with pytest.raises(Invalid):
        ws.datasets.profile(version.ref, bins=0)
    assert store.datasets.profiles.computed == 0
    assert ws.datasets.profile(version.ref).rows == 4


def test_requests_during_a_computation_wait_for_it_instead_of_computing_again() -> None:
    cache = ProfileCache()
    entered, release = threading.Event(), threading.Event()
    computations: list[str] = []

    def slow() -> Profile:
        computations.append("first")
        entered.set()
        assert release.wait(60)
        return profile(FRAME)

    def second() -> Profile:
        computations.append("second")
        return profile(FRAME)

    results: dict[str, Profile] = {}
    first = threading.Thread(target=lambda: results.update(a=cache.get("sha", {}, slow)))
    first.start()
    assert entered.wait(60)
    later = threading.Thread(target=lambda: results.update(b=cache.get("sha", {}, second)))
    later.start()
    release.set()
    first.join(60)
    later.join(60)
    assert computations == ["first"] and cache.computed == 1
    assert results["a"].to_dict() == results["b"].to_dict()


def test_a_failed_computation_fails_its_waiters_and_is_not_kept() -> None:
    cache = ProfileCache()

    def broken() -> Profile:
        raise Invalid("column names must be unique to profile a dataset")

    with pytest.raises(Invalid):
        cache.get("sha", {}, broken)
    assert cache.get("sha", {}, lambda: profile(FRAME)).rows == 4
    assert cache.computed == 1


def test_the_least_recently_used_profiles_go_first() -> None:
    cache = ProfileCache(max_items=2)
    for sha in ("a", "b", "a", "c"):  # "a" used again, so "b" is the one evicted
        cache.get(sha, {}, lambda: profile(FRAME))
    assert cache.computed == 3
    cache.get("a", {}, lambda: profile(FRAME))
    cache.get("b", {}, lambda: profile(FRAME))
    assert cache.computed == 4
