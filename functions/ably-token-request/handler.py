"""Lambda-style entry point for /.netlify/functions/ably-token-request (and AWS Lambda: handler.handler).

Start-up happens once per execution environment, at import: load `.env` for local runs, read and validate
the configuration, build the function. Warm invocations reuse all of it.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from aws_lambda_powertools import Logger

from ably_token_request.app import MisconfiguredFunction, TokenFunction
from ably_token_request.errors import ConfigurationError
from ably_token_request.log_format import JsonLineFormatter
from ably_token_request.responses import Response
from ably_token_request.settings import load_settings

PROJECT_ENV_FILE = Path(__file__).resolve().parents[2] / ".env"


def _load_project_env_file() -> None:
    """Local runs read the project's .env; a real environment variable always wins over it."""
    if PROJECT_ENV_FILE.is_file():
        from dotenv import load_dotenv

        load_dotenv(PROJECT_ENV_FILE, override=False)


def create_function(
    logger: Logger, environ: Mapping[str, str] = os.environ
) -> TokenFunction | MisconfiguredFunction:
    try:
        return TokenFunction(load_settings(environ), logger)
    except ConfigurationError as error:
        logger.error("token function misconfigured", extra={"error": error.message})
        return MisconfiguredFunction(error, logger)


_load_project_env_file()
_function = create_function(
    Logger(
        service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ably-token-request",
        logger_formatter=JsonLineFormatter(),
    )
)


def handler(event: object, context: object) -> Response:
    return _function(event, context)
