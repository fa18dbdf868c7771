"""The function's logger: Powertools' Logger with a lean formatter writing one flat JSON object per line.

The default LambdaPowertoolsFormatter walks every LogRecord attribute and formats a local timestamp on
each call, which took longer than signing the TokenRequest. This keeps Powertools' Logger (levels,
sampling, appended keys) and its JSON lines for a fraction of that cost.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, BasePowertoolsFormatter

SERVICE = "ably-token-request"


class JsonLineFormatter(BasePowertoolsFormatter):
    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, Any] = {}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "message": record.getMessage(),
        }
        for source in (self._keys, record.__dict__):
            for name, value in source.items():
                if value is not None and name not in RESERVED_LOG_ATTRS:
                    line[name] = value
        return json.dumps(line, default=str, separators=(",", ":"))

    def append_keys(self, **additional_keys: Any) -> None:
        self._keys.update(additional_keys)

    def clear_state(self) -> None:
        self._keys.clear()


def powertools_logger(
    level: str, *, service: str = SERVICE, handler: logging.Handler | None = None
) -> Logger:
    """Powertools' Logger at this level; it reads the other POWERTOOLS_* variables, and may refuse them."""
    return Logger(service=service, level=level, logger_formatter=JsonLineFormatter(), logger_handler=handler)


def fallback_logger() -> logging.Logger:
    """The same JSON lines without Powertools, for when Powertools refuses its environment."""
    logger = logging.getLogger(f"{SERVICE}.fallback")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLineFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
