"""Lambda-style entry point for /.netlify/functions/ably-token-request (and AWS Lambda: handler.handler).

Start-up happens once per execution environment, when this module is imported: load `.env` for local runs,
read and validate the configuration, create the logger and any AWS client. On Netlify and AWS Lambda that is
the cold start; under the dev server it is the first request (and after a source change). Warm invocations
reuse all of it.
"""

import os
from collections.abc import Mapping

from ably_token_request.app import Logger, MisconfiguredFunction, TokenFunction
from ably_token_request.errors import ConfigurationError
from ably_token_request.key_store import key_reader
from ably_token_request.log_format import SERVICE, fallback_logger, powertools_logger
from ably_token_request.responses import Response
from ably_token_request.settings import DEFAULT_LOG_LEVEL, load_settings, log_level

PROJECT_ENV_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, ".env")
LOGGER_REFUSED = ConfigurationError(
    "Powertools could not create its logger from the POWERTOOLS_* variables: check "
    "POWERTOOLS_LOGGER_SAMPLE_RATE (a number from 0 to 1) and the other POWERTOOLS_* settings."
)


def _load_project_env_file() -> None:
    """Local runs read the project's .env; a real environment variable always wins over it."""
    if os.path.isfile(PROJECT_ENV_FILE):
        from dotenv import load_dotenv

        load_dotenv(PROJECT_ENV_FILE)  # never overrides: python-dotenv's default


def create_function(
    logger: Logger | None = None, environ: Mapping[str, str] = os.environ
) -> TokenFunction | MisconfiguredFunction:
    """The function for this configuration, or a stand-in answering every request with the error.

    Without a logger it makes Powertools' at POWERTOOLS_LOG_LEVEL (tests pass their own).
    """
    level_error: ConfigurationError | None = None
    try:
        level = log_level(environ)
    except ConfigurationError as error:
        level, level_error = DEFAULT_LOG_LEVEL, error
    if logger is None:
        try:
            logger = powertools_logger(level, service=environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
        except Exception:
            return MisconfiguredFunction(LOGGER_REFUSED, fallback_logger())
    if level_error is not None:
        return MisconfiguredFunction(level_error, logger)
    try:
        settings = load_settings(environ)
        return TokenFunction(settings, logger, key_reader(settings.key_source))
    except ConfigurationError as error:
        return MisconfiguredFunction(error, logger)


_load_project_env_file()
_function = create_function()


def handler(event: object, context: object) -> Response:
    return _function(event, context)
