"""An offline stand-in for Ably's realtime service that the official SDKs connect to on localhost.

For development, demos and tests only: production always uses the real Ably.
"""

from ably_local.rest import REST_PATH_PREFIXES
from ably_local.server import LocalAbly

__all__ = ["REST_PATH_PREFIXES", "LocalAbly"]
