from __future__ import annotations

import pytest


@pytest.fixture
def jp_server_config(tmp_path):
    return {
        "ServerApp": {"jpserver_extensions": {"astralytiq_jupyter": True}},
        "AstralytiQ": {
            "home": str(tmp_path / "aqhome"),
            "owner": "owner",
            "set_kernel_env": False,
            "freeze_gc": False,
        },
    }
