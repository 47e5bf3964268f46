from __future__ import annotations

import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.names import Ref, check_name, check_slug, parse_ref

BAD_NAMES = [
    "",
    "../x",
    "a/b",
    "a\\b",
    "..",
    "a..b",
    ".hidden",
    "a\x00b",
    "a@b",
    "a b",
    "/abs",
    "x" * 129,
    "#x",
    "%2e%2e",
]


@pytest.mark.parametrize("name", ["sales", "Sales_2024", "q1-report.v2", "ventes-été", "x" * 128])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names(name):
    with pytest.raises(Invalid):
        check_name(name)


def test_parse_ref():
    assert parse_ref("sales") == Ref("sales")
    assert parse_ref("sales@3") == Ref("sales", version=3)
    assert parse_ref("churn@production", allow_alias=True) == Ref("churn", alias="production")
    assert str(parse_ref("sales@3")) == "sales@3"


@pytest.mark.parametrize(
    "ref", ["sales@", "sales@0", "sales@-1", "sales@prod", "../x@1", "sales@1@2"]
)
def test_bad_dataset_refs(ref):
    with pytest.raises(Invalid):
        parse_ref(ref)


@pytest.mark.parametrize("slug", ["acme", "a", "acme-corp", "t1"])
def test_slugs(slug):
    assert check_slug(slug) == slug


@pytest.mark.parametrize("slug", ["Acme", "-acme", "acme-", "ac_me", "", "a" * 64, "a/b"])
def test_bad_slugs(slug):
    with pytest.raises(Invalid):
        check_slug(slug)
