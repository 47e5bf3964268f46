"""The type check that ``make test`` runs has teeth: an area that binds the wrong core
method, or takes an operation with other parameters than its contract, fails it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api

WRONG = """
from astralytiq_jupyter.client.contracts import TokensContract, TenantContract
from astralytiq_jupyter.client.local import _Area, _bind


class BindsTheWrongMethod(_Area):
    create = _bind(lambda s: s.tokens.create)
    list = _bind(lambda s: s.tenants.members)

    def revoke(self, token_id: str) -> None: ...


class LacksAParameter(_Area):
    info = _bind(lambda s: s.tenants.get)
    update = _bind(lambda s: s.tenants.update)
    members = _bind(lambda s: s.tenants.members)
    add_member = _bind(lambda s: s.tenants.add_member)
    set_role = _bind(lambda s: s.tenants.set_role)
    usage = _bind(lambda s: s.tenants.usage)

    def remove_member(self) -> None: ...


def check(a: BindsTheWrongMethod, b: LacksAParameter) -> None:
    tokens: TokensContract = a
    tenant: TenantContract = b
"""


@pytest.mark.slow
def test_mypy_refuses_an_area_that_does_not_conform(tmp_path: Path) -> None:
    module = tmp_path / "wrong_area.py"
    module.write_text(textwrap.dedent(WRONG))
    out, err, status = api.run(
        ["--strict", "--follow-imports=silent", "--no-error-summary", str(module)]
    )
    assert status == 1, out + err
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2, out
    assert '"BindsTheWrongMethod", variable has type "TokensContract"' in errors[0]
    assert '"LacksAParameter", variable has type "TenantContract"' in errors[1]
    assert "def list(self, *, include_inactive: bool = ..." in out
    assert "def remove_member(self, username: str" in out
