"""The AWS SAM template: valid offline, wired to the real handler, and the SSM key path working end to end."""

import importlib.util
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str
from moto import mock_aws

from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import function_url_event
from tests.function.signing import expected_mac

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["AblyTokenRequestFunction"]["Properties"]
    return properties


def resolve(value: object, parameters: dict[str, str]) -> str:
    """Evaluate the two intrinsics the template's environment uses (Ref and Sub of parameters)."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict), value
    assert len(value) == 1, value
    (intrinsic, argument), *_ = value.items()
    if intrinsic == "Ref":
        return parameters[argument]
    assert intrinsic == "Fn::Sub", value
    assert isinstance(argument, str), value
    return re.sub(r"\$\{(\w+)\}", lambda match: parameters[match[1]], argument)


def load_handler_module(code_uri: Path, handler: str) -> ModuleType:
    """Import the handler as Lambda would: CodeUri on sys.path, module imported fresh (start-up runs)."""
    module_name, _ = handler.rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(
        f"sam_{module_name}_{uuid.uuid4().hex}", code_uri / f"{module_name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(code_uri))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(code_uri))
    return module


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_runs_the_handler_on_python_behind_a_public_function_url(function: dict[str, Any]) -> None:
    assert function["Runtime"] == "python3.11"
    assert function["FunctionUrlConfig"]["AuthType"] == "NONE"
    assert "Cors" in function["FunctionUrlConfig"]
    code_uri = ROOT / function["CodeUri"]
    assert (code_uri / "requirements.txt").is_file()  # what `sam build` installs
    module_name, attribute = function["Handler"].rsplit(".", 1)
    module = load_handler_module(code_uri, function["Handler"])
    assert callable(getattr(module, attribute))
    assert Path(module.__file__ or "").resolve() == (code_uri / f"{module_name}.py").resolve()


def test_read_permission_is_limited_to_the_key_parameter(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    parameters = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    env_name = resolve(function["Environment"]["Variables"]["ABLY_API_KEY_SSM_PARAMETER"], parameters)
    ssm_policy = next(
        p["SSMParameterReadPolicy"] for p in function["Policies"] if "SSMParameterReadPolicy" in p
    )
    # SAM's policy template grants arn:...:parameter/<ParameterName>, so the name goes without its slash.
    assert "/" + resolve(ssm_policy["ParameterName"], parameters) == env_name
    outputs = template["Outputs"]
    assert any(
        output["Value"] == {"Fn::GetAtt": ["AblyTokenRequestFunctionUrl", "FunctionUrl"]}
        for output in outputs.values()
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_deployed_function_signs_with_the_key_from_ssm(
    aws: None, template: dict[str, Any], function: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh parameter name: Powertools caches parameters per name for the whole test process.
    parameters = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    parameters["AblyApiKeyParameterName"] += f"-{uuid.uuid4().hex}"
    environment = {
        name: resolve(value, parameters) for name, value in function["Environment"]["Variables"].items()
    }
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=environment["ABLY_API_KEY_SSM_PARAMETER"], Value=API_KEY, Type="SecureString"
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # The template sets no ABLY_API_KEY; an empty one also keeps a developer's .env out of the way.
    monkeypatch.setenv("ABLY_API_KEY", "")

    module = load_handler_module(ROOT / function["CodeUri"], function["Handler"])
    response = module.handler(function_url_event(query={"clientId": "lambda-user"}), None)

    assert response["statusCode"] == 200
    assert KEY_SECRET not in str(response)
    body = json.loads(response["body"])
    assert body["keyName"] == KEY_NAME
    assert body["clientId"] == "lambda-user"
    assert body["mac"] == expected_mac(body, KEY_SECRET)
