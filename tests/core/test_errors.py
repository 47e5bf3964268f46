"""The one table of errors: every class states its own HTTP status and wire code, codes are
unique, and the table read backwards gives each class again."""

from __future__ import annotations

import pytest

from astralytiq_jupyter.core import errors


def test_every_error_class_is_in_the_table_once() -> None:
    def subclasses(cls: type[errors.AstralytiqError]) -> set[type[errors.AstralytiqError]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found)) if found else found

    table = errors.error_classes()
    assert set(table) == {errors.AstralytiqError} | subclasses(errors.AstralytiqError)
    assert len({cls.code for cls in table}) == len(table)
    for cls in table:
        assert 400 <= cls.status < 600 and cls.code


@pytest.mark.parametrize("cls", errors.error_classes(), ids=lambda c: c.__name__)
def test_each_class_is_found_again_by_its_code(cls: type[errors.AstralytiqError]) -> None:
    error = cls("boom")
    assert error.http_status == cls.status
    assert errors.error_class(error.to_dict()["error"], error.http_status) is cls


def test_an_unknown_code_falls_back_to_the_most_general_class_of_the_status() -> None:
    assert errors.error_class("teapot", 404) is errors.NotFound
    assert errors.error_class(None, 409) is errors.Conflict  # not Cancelled
    assert errors.error_class(None, 413) is errors.QuotaExceeded
    assert errors.error_class(None, 502) is errors.AstralytiqError
    assert errors.code_for_status(410) == "file_missing"
    assert errors.code_for_status(405) is None


def test_byte_quotas_are_413_and_count_quotas_429() -> None:
    assert errors.QuotaExceeded("big", quota="upload_bytes").http_status == 413
    assert errors.QuotaExceeded("big", quota="storage_bytes").http_status == 413
    assert errors.QuotaExceeded("many", quota="datasets").http_status == 429
    assert set(errors.statuses()[413]) == {errors.QuotaExceeded}


def test_a_new_class_must_state_a_code_of_its_own() -> None:
    with pytest.raises(TypeError, match="own wire code"):

        class NoCode(errors.Invalid):  # noqa: F841
            pass

    with pytest.raises(TypeError, match="reuses the code"):

        class Again(errors.Invalid):  # noqa: F841
            code = "not_found"
