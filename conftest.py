"""Root conftest: pytest plugins must be declared at the rootdir (pytest refuses them in
nested conftest files when several test paths are collected at once)."""

pytest_plugins = ["pytest_jupyter.jupyter_server"]
