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

import handler
from ably_token_request.key_store import SECRET_SOURCE, SSM_SOURCE
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


@pytest.mark.parametrize(
    "key_name",
    ["app." + "k" * 3000, "app." + "\u00e9" * 60, "app." + 'k"\\' * 20],
    ids=["long", "escaped-to-6-bytes-each", "escaped-to-2-bytes-each"],
)
def test_a_stored_key_whose_name_would_break_the_jwt_size_bound_is_a_500(
    aws: None, make_function: Callable[..., FunctionUnderTest], key_name: str
) -> None:
    """In JWT mode a key read from a store later is allowed a name (the `kid`) of MAX_JWT_KEY_NAME_LENGTH
    characters as the token's header holds them, which the start-up size check counted on; a longer one
    was signed into a token past MAX_JWT_BYTES. Now it is the key store's 500, naming neither key part."""
    name = unique("long-key-name")
    stored = f"{key_name}:{KEY_SECRET}"
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value=stored, Type="SecureString")
    function = make_function(
        secrets=(KEY_SECRET, key_name),
        ABLY_API_KEY_SSM_PARAMETER=name,
        ABLY_TOKEN_FORMAT="jwt",
        ABLY_TOKEN_CAPABILITY=json.dumps({f"room-{i}": ["publish"] for i in range(11)}),
    )
    result = function(function_url_event(query={"clientId": "\U0001f600" * 128}))
    assert result.status == 500, len(result.response["body"])
    assert result.json["error"]["code"] == 50001
    assert "ABLY_API_KEY_SSM_PARAMETER" in result.json["error"]["message"]


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


MAX_STORED_KEY_BYTES = 4_096
KEY_FORM = "appId.keyId:secret (copy the whole key from the Ably dashboard, API Keys tab)"


@pytest.mark.parametrize(("size", "status"), [(MAX_STORED_KEY_BYTES, 200), (MAX_STORED_KEY_BYTES + 1, 500)])
def test_stored_key_size_edge(
    aws: None, make_function: Callable[..., FunctionUnderTest], size: int, status: int
) -> None:
    """The stored value is trimmed like the variable, but no more than 4,096 bytes of it are read at all."""
    secret_id = unique("padded")
    stored = API_KEY + "\n" * (size - len(API_KEY))
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=stored)
    result = make_function(ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event())
    assert result.status == status
    if status == 500:
        assert result.json["error"] == {
            "message": f"{SECRET_SOURCE} holds more than 4096 bytes; store only the key.",
            "code": 50001,
            "statusCode": 500,
        }


def test_stored_key_size_counts_bytes(aws: None, make_function: Callable[..., FunctionUnderTest]) -> None:
    secret_id = unique("wide")
    stored = API_KEY + " " + "é" * 2_040  # fewer than 4,096 characters, more bytes
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=stored)
    result = make_function(ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event())
    assert result.json["error"]["code"] == 50001


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ('{"OTHER": "x"}', f"{SECRET_SOURCE} does not hold a string."),
        ('{"ABLY_API_KEY": 7}', f"{SECRET_SOURCE} does not hold a string."),
        (
            "not-a-key",
            f"{SECRET_SOURCE} does not hold an Ably API key of the form {KEY_FORM}.",
        ),
        (
            '{"ABLY_API_KEY": ',
            f"{SECRET_SOURCE} does not hold an Ably API key of the form {KEY_FORM}.",
        ),
    ],
    ids=["json-without-the-key", "json-key-not-a-string", "not-a-key", "broken-json"],
)
def test_a_secret_that_holds_no_key_says_so(
    aws: None, make_function: Callable[..., FunctionUnderTest], stored: str, message: str
) -> None:
    secret_id = unique("unusable")
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=stored)
    result = make_function(secrets=(secret_id,), ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event())
    assert result.json["error"] == {"message": message, "code": 50001, "statusCode": 500}


def test_a_secret_in_console_key_value_form_may_have_other_keys_and_spaces(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    secret_id = unique("key-value")
    stored = '  \n {"region": "eu", "ABLY_API_KEY": "' + API_KEY + '"}'
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=secret_id, SecretString=stored)
    body = make_function(ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event()).json
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize(
    ("variable", "source"),
    [("ABLY_API_KEY_SSM_PARAMETER", SSM_SOURCE), ("ABLY_API_KEY_SECRET_ID", SECRET_SOURCE)],
)
def test_an_unreadable_store_is_a_50001_naming_the_variable_and_the_fix(
    aws: None, make_function: Callable[..., FunctionUnderTest], variable: str, source: str
) -> None:
    name = unique("absent")
    result = make_function(secrets=(name,), **{variable: name})(function_url_event())
    message = (
        f"Could not read {source}: check that it exists in the function's region and that the function's "
        "role may read it."
    )
    assert result.json["error"] == {"message": message, "code": 50001, "statusCode": 500}
    (line,) = result.log_lines
    assert (line["level"], line["outcome"], line["error"]) == ("ERROR", "KeyUnavailable", message)


@pytest.mark.parametrize("variable", ["ABLY_API_KEY_SSM_PARAMETER", "ABLY_API_KEY_SECRET_ID"])
def test_a_key_store_without_a_region_is_a_configuration_error(
    make_function: Callable[..., FunctionUnderTest], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    result = make_function(**{variable: "/ably-token-request/api-key"})(function_url_event())
    assert result.json["error"] == {
        "message": f"{variable} is set but no AWS client could be created for it: set AWS_DEFAULT_REGION "
        "(AWS Lambda sets it for you) and AWS credentials.",
        "code": 50000,
        "statusCode": 500,
    }


def test_a_stored_key_is_read_once_and_cached(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    """Warm invocations make no AWS call: the key stays usable while the store is unreachable."""
    name = unique("cached")
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=name, Value=API_KEY, Type="SecureString")
    function = make_function(ABLY_API_KEY_SSM_PARAMETER=name)
    assert function(function_url_event()).status == 200
    ssm.delete_parameter(Name=name)
    assert function(function_url_event()).status == 200


def test_a_binary_secret_is_refused_as_holding_no_string(
    aws: None, make_function: Callable[..., FunctionUnderTest]
) -> None:
    secret_id = unique("binary")
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=secret_id, SecretBinary=API_KEY.encode())
    result = make_function(secrets=(secret_id,), ABLY_API_KEY_SECRET_ID=secret_id)(function_url_event())
    assert result.json["error"] == {
        "message": f"{SECRET_SOURCE} does not hold a string.",
        "code": 50001,
        "statusCode": 500,
    }


def test_the_project_env_file_fills_in_only_what_the_environment_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ABLY_TEST_ONLY_IN_FILE=file\nABLY_TEST_IN_BOTH=file\n")
    monkeypatch.setattr(handler, "PROJECT_ENV_FILE", str(env_file))
    monkeypatch.delenv("ABLY_TEST_ONLY_IN_FILE", raising=False)
    monkeypatch.setenv("ABLY_TEST_IN_BOTH", "environment")

    handler._load_project_env_file()

    assert os.environ["ABLY_TEST_ONLY_IN_FILE"] == "file"
    assert os.environ["ABLY_TEST_IN_BOTH"] == "environment"
