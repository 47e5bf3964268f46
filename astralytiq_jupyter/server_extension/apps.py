"""The packaged Voila apps, served by Voila in this server at ``{base_url}astralytiq/apps/<name>``
(``astralytiq.ipynb``, ``dashboard.ipynb?name=...``): straight from the installed package,
so they need no file in the Jupyter workspace, stay in step with the package, and run as the
viewer like any Voila page of this server (``kernels.py``). Registered only when Voila's
server extension is enabled. ``astralytiq apps install DIR`` still copies them for editing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import AstralytiQ

APPS_PATH = "/astralytiq/apps"
VOILA_EXTENSION = "voila.server_extension"


def voila_enabled(serverapp: Any) -> bool:
    enabled = getattr(serverapp, "jpserver_extensions", {}) or {}
    if not enabled.get(VOILA_EXTENSION):
        return False
    try:
        import voila.tornado.handler  # noqa: F401
    except ImportError:
        return False
    return True


def app_handlers(ext: AstralytiQ) -> list[tuple[str, Any, dict[str, Any]]]:
    """The route serving the apps with Voila's own page handler, reading notebooks from the
    package instead of the workspace; nothing when Voila does not run in this server."""
    if not voila_enabled(ext.serverapp):
        return []
    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths
    from voila.server_extension import load_config_file
    from voila.tornado.handler import TornadoVoilaHandler

    from ..apps import NOTEBOOKS

    apps = AsyncFileContentsManager(root_dir=str(NOTEBOOKS), parent=ext.serverapp)

    class AppHandler(TornadoVoilaHandler):
        """Voila's page handler; the notebook comes from the package's apps."""

        @property
        def contents_manager(self) -> Any:
            return apps

    # The same configuration Voila's own extension builds (so the viewer's prelaunch hook,
    # set on the server's config at link time, applies here too).
    configuration = VoilaConfiguration(parent=ext.serverapp)
    local = load_config_file()
    if local is not None:
        configuration.update_config(local)
    kwargs = {
        "config": ext.serverapp.config,
        "template_paths": collect_template_paths(["voila", "nbconvert"], configuration.template),
        "voila_configuration": configuration,
    }
    return [(APPS_PATH + r"/([^/]+\.ipynb)", AppHandler, kwargs)]
