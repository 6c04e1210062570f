"""dingstore as a test double: a throwaway server in the test process (docs/testing.md).

With dingstore installed, pytest finds its plugin (``plugin.py``, the ``pytest11`` entry point
``dingstore``) and offers the fixtures ``dingstore_server`` and ``dingstore``. Outside pytest::

    from dingstore.testing import start_server

    server = start_server()          # ready on return; server.endpoint is "127.0.0.1:PORT"
    org = server.new_org()           # an org, its admin and an app holding every scope
    ...
    server.stop()

This package imports the server only when one is started, so that loading the plugin costs a
suite that does not use it nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dingstore.testing.org import App, Dingstore
    from dingstore.testing.server import DingstoreServer

__all__ = ["App", "Dingstore", "DingstoreServer", "start_server"]


def start_server(**settings: Any) -> DingstoreServer:
    """A server on a free loopback port, in ephemeral and test mode, ready on return;
    ``settings`` override any other setting (``Settings`` field names)."""
    from dingstore.testing.server import DingstoreServer

    return DingstoreServer(**settings).start()


def __getattr__(name: str) -> Any:
    if name == "DingstoreServer":
        from dingstore.testing.server import DingstoreServer

        return DingstoreServer
    if name in ("Dingstore", "App"):
        from dingstore.testing import org

        return getattr(org, name)
    raise AttributeError(name)
