"""Where the key comes from: .env for local runs, SSM or Secrets Manager (through moto) on AWS."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tests.conftest import AWS_REGION as REGION
from tests.function.conftest import API_KEY, FUNCTION_DIR, KEY_NAME, KEY_SECRET, FunctionUnderTest
from tests.function.events import function_url_event
from tests.function.signing import expected_mac


def unique(name: str) -> str:
    """Powertools caches parameters by name for the process, so each test uses its own."""
    return f"/ably-token-request/{name}-{uuid.uuid4().hex}"


def test_key_from_ssm_secure_string(aws: None, make_function: Callable[..., FunctionUnderTest]) -> None:
    name = unique("api-key")
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value=API_KEY, Type="SecureString")
    function = make_function(ABLY_API_KEY_SSM_PARAMETER=name)

    body = function(function_url_event(query={"clientId": "lambda-user"})).json

    assert body["keyName"] == KEY_NAME
    assert body["mac"] == expected_mac(body, KEY_SECRET)


def test_missing_ssm_parameter_is_a_500_naming_the_variable_not_its_value(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    name = unique("absent")
    result = make_function(secrets=(name,), ABLY_API_KEY_SSM_PARAMETER=name)(function_url_event())
    assert result.status == 500
    assert "ABLY_API_KEY_SSM_PARAMETER" in result.json["error"]["message"]
    assert result.json["error"]["code"] == 50001


def test_ssm_key_with_an_extra_colon_is_refused_without_showing_its_parts(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    """ably-python would split it in three and list the parts in its error; the function never gets there."""
    name = unique("three-parts")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=name, Value=f"{API_KEY}:tail", Type="SecureString"
    )
    result = make_function(secrets=(KEY_SECRET, "tail"), ABLY_API_KEY_SSM_PARAMETER=name)(
        function_url_event()
    )
    assert result.status == 500
    assert "ABLY_API_KEY_SSM_PARAMETER" in result.json["error"]["message"]
    assert "appId.keyId:secret" in result.json["error"]["message"]


def test_malformed_ssm_key_is_a_500_without_its_value(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    name = unique("malformed")
    leaked = "notakeyButSECRETISH"
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value=leaked, Type="SecureString")
    result = make_function(secrets=(leaked,), ABLY_API_KEY_SSM_PARAMETER=name)(function_url_event())
    assert result.status == 500
    assert "appId.keyId:secret" in result.json["error"]["message"]


@pytest.mark.parametrize("stored", [API_KEY, json.dumps({"ABLY_API_KEY": API_KEY})], ids=["plain", "json"])
def test_key_from_secrets_manager(
    aws: None, make_function: Callable[..., FunctionUnderTest], stored: str
) -> None:
    secret_id = unique("secret")
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=stored)
    body = make_function(ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event()).json
    assert body["mac"] == expected_mac(body, KEY_SECRET)


def test_missing_and_malformed_secrets_are_500s(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    absent = unique("absent")
    malformed = unique("malformed")
    deep = unique("deep")
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=malformed, SecretString='{"OTHER": "x"}')
    client.create_secret(Name=deep, SecretString="{" + '"a":[' * 2000)
    for secret_id in (absent, malformed, deep):
        result = make_function(secrets=(secret_id,), ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event())
        assert result.status == 500
        assert "ABLY_API_KEY_SECRET_ID" in result.json["error"]["message"]


@pytest.mark.parametrize("variable", ["ABLY_API_KEY_SSM_PARAMETER", "ABLY_API_KEY_SECRET_ID"])
def test_a_key_pasted_into_a_key_store_variable_is_never_echoed(
    aws: None, make_function: Callable[..., FunctionUnderTest], variable: str
) -> None:
    function = make_function(secrets=(KEY_SECRET, KEY_NAME), **{variable: API_KEY})
    for _ in range(2):
        result = function(function_url_event())
        assert result.status == 500
        message = result.json["error"]["message"]
        assert variable in message
        assert "not the key itself" in message
        assert [line["outcome"] for line in result.log_lines] == ["ConfigurationError"]


def test_environment_key_wins_over_key_stores(make_function: Callable[..., FunctionUnderTest]) -> None:
    function = make_function(ABLY_API_KEY=API_KEY, ABLY_API_KEY_SSM_PARAMETER="/never/read")
    assert function(function_url_event()).status == 200


def _invoke_fresh(project: Path, environ: dict[str, str]) -> dict[str, object]:
    """Import the handler in a new interpreter, as a cold start does, and return the body it answers."""
    script = (
        "import json, handler\n"
        "r = handler.handler({'httpMethod': 'GET', 'headers': {}}, None)\n"
        "print(json.dumps(r))\n"
    )
    # What a cold start sees: the platform's few variables, and this configuration.
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}} | environ
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project / "functions" / "ably-token-request",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    response = json.loads(completed.stdout.strip().splitlines()[-1])
    body: dict[str, object] = json.loads(response["body"])
    return body


def test_dotenv_at_the_project_root_is_loaded_but_never_overrides_the_environment(tmp_path: Path) -> None:
    shutil.copytree(
        FUNCTION_DIR,
        tmp_path / "functions" / "ably-token-request",
        ignore=shutil.ignore_patterns("__pycache__", "node_modules", "*.mjs", "*.whl"),
    )
    (tmp_path / ".env").write_text(f"ABLY_API_KEY={API_KEY}\nDEFAULT_CLIENT_ID=from-dotenv\n")

    from_file = _invoke_fresh(tmp_path, {})
    overridden = _invoke_fresh(tmp_path, {"ABLY_API_KEY": "envApp.envKey:envSecret"})

    assert from_file["keyName"] == KEY_NAME
    assert from_file["clientId"] == "from-dotenv"
    assert overridden["keyName"] == "envApp.envKey"
    assert overridden["mac"] == expected_mac(overridden, "envSecret")
