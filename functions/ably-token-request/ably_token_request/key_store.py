"""Fetch the API key from wherever the deployment keeps it.

The environment is read at start-up; AWS key stores are read through Powertools Parameters, which caches
the value for KEY_CACHE_SECONDS so warm invocations make no AWS call and a rotated key is picked up.
"""

import json

from ably_token_request.api_key import ApiKey, parse_stored_api_key
from ably_token_request.errors import KeyUnavailable
from ably_token_request.settings import KeySource

KEY_CACHE_SECONDS = 300


def current_api_key(source: KeySource) -> ApiKey:
    if source.env_key is not None:
        return source.env_key
    if source.ssm_parameter is not None:
        return _from_ssm(source.ssm_parameter)
    if source.secret_id is not None:
        return _from_secrets_manager(source.secret_id)
    raise KeyUnavailable("No key source is configured.")


def _from_ssm(name: str) -> ApiKey:
    # Imported here: boto3 costs cold-start time and only AWS deployments need it.
    from aws_lambda_powertools.utilities.parameters import get_parameter
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    source = f"SSM parameter {name} (ABLY_API_KEY_SSM_PARAMETER)"
    try:
        value = get_parameter(name, decrypt=True, max_age=KEY_CACHE_SECONDS)
    except GetParameterError:
        raise KeyUnavailable(
            f"Could not read {source}: check that it exists and the function may read it."
        ) from None
    return parse_stored_api_key(value, source=source)


def _from_secrets_manager(secret_id: str) -> ApiKey:
    from aws_lambda_powertools.utilities.parameters import get_secret
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    source = f"Secrets Manager secret {secret_id} (ABLY_API_KEY_SECRET_ID)"
    try:
        value = get_secret(secret_id, max_age=KEY_CACHE_SECONDS)
    except GetParameterError:
        raise KeyUnavailable(
            f"Could not read {source}: check that it exists and the function may read it."
        ) from None
    return parse_stored_api_key(_unwrap_secret(value), source=source)


def _unwrap_secret(value: object) -> object:
    """Accept the key as the plain secret string or as {"ABLY_API_KEY": "..."} (console key/value)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            return parsed.get("ABLY_API_KEY")
    return value
