"""Where the API key comes from at request time: the environment, SSM Parameter Store or Secrets Manager.

An AWS store is read through Powertools Parameters, which caches the value (5 minutes, its default, or
POWERTOOLS_PARAMETERS_MAX_AGE seconds) so warm invocations make no AWS call and a rotated key is picked up.
Its imports and boto3 client (the bulk of the first request's cost) are made when the function starts: under
Lambda SnapStart that work is in the snapshot, while the key itself is fetched only by a request, after any
restore, and never baked in.
Errors name the variable that configures the store, never its value.
"""

from collections.abc import Callable
from typing import Any

from ably_token_request.api_key import ApiKey, parse_stored_api_key
from ably_token_request.errors import ConfigurationError, KeyUnavailable
from ably_token_request.json_input import parse_json
from ably_token_request.settings import KeySource

SSM_SOURCE = "the SSM parameter named by ABLY_API_KEY_SSM_PARAMETER"
SECRET_SOURCE = "the Secrets Manager secret named by ABLY_API_KEY_SECRET_ID"  # noqa: S105 (a name)
_READ_FIX = "check that it exists in the function's region and that the function's role may read it."

KeyReader = Callable[[], ApiKey]


def key_reader(source: KeySource) -> KeyReader:
    """The function that returns the current key, with any AWS client it needs already made."""
    if source.env_key is not None:
        key = source.env_key
        return lambda: key
    if source.ssm_parameter is not None:
        return _ssm_reader(source.ssm_parameter)
    if source.secret_id is not None:
        return _secret_reader(source.secret_id)
    # Not mutated: unreachable, load_settings always sets one source (the raise is for the type checker).
    raise KeyUnavailable("No key source is configured.")  # pragma: no mutate


def _ssm_reader(name: str) -> KeyReader:
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    provider = _provider(SSMProvider, "ABLY_API_KEY_SSM_PARAMETER")

    def read() -> ApiKey:
        try:
            value = provider.get(name, decrypt=True)
        except GetParameterError:
            raise KeyUnavailable(f"Could not read {SSM_SOURCE}: {_READ_FIX}") from None
        return parse_stored_api_key(value, source=SSM_SOURCE)

    return read


def _secret_reader(secret_id: str) -> KeyReader:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    provider = _provider(SecretsProvider, "ABLY_API_KEY_SECRET_ID")

    def read() -> ApiKey:
        try:
            value = provider.get(secret_id)
        except GetParameterError:
            raise KeyUnavailable(f"Could not read {SECRET_SOURCE}: {_READ_FIX}") from None
        return parse_stored_api_key(_unwrap_secret(value), source=SECRET_SOURCE)

    return read


def _provider(provider_class: Callable[[], Any], variable: str) -> Any:
    """Create the Powertools provider (and its boto3 client), which needs a region and nothing else."""
    try:
        return provider_class()
    except Exception:
        raise ConfigurationError(
            f"{variable} is set but no AWS client could be created for it: set AWS_DEFAULT_REGION "
            "(AWS Lambda sets it for you) and AWS credentials."
        ) from None


def _unwrap_secret(value: object) -> object:
    """Accept the key as the plain secret string or as {"ABLY_API_KEY": "..."} (console key/value)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = parse_json(value)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            return parsed.get("ABLY_API_KEY")
    return value
