"""An offline stand-in for Ably's realtime service that the official SDKs connect to on localhost.

For development, demos and tests only: production always uses the real Ably.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ably_local.rest import REST_PATH_PREFIXES
    from ably_local.server import LocalAbly

__all__ = ["REST_PATH_PREFIXES", "LocalAbly"]


def __getattr__(name: str) -> object:
    """The server loads on first use: importing any ably_local module (such as the pytest plugin, which
    pytest loads in every run of an environment that has this package) does not pull in the web stack."""
    if name == "LocalAbly":
        from ably_local.server import LocalAbly

        return LocalAbly
    if name == "REST_PATH_PREFIXES":
        from ably_local.rest import REST_PATH_PREFIXES

        return REST_PATH_PREFIXES
    raise AttributeError(f"module 'ably_local' has no attribute {name!r}")
