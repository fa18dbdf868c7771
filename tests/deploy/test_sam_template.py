"""The AWS SAM template: valid offline, wired to the real handler, and the SSM key path working end to end."""

import importlib.util
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str

from tests.conftest import AWS_REGION as REGION
from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import function_url_event
from tests.function.signing import expected_mac

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


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


NO_VALUE = object()  # AWS::NoValue: the property or list item is left out


def evaluate(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Evaluate the intrinsics the template uses (Ref, Sub, If and the conditions' Equals/Not), as
    CloudFormation would for a stack created with these parameters."""

    def again(inner: Any) -> Any:
        return evaluate(inner, template, parameters)

    if isinstance(value, list):
        return [item for item in map(again, value) if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (name, argument), *_ = value.items()
        pseudo = {"AWS::NoValue": NO_VALUE, "AWS::Region": REGION, "AWS::Partition": "aws"}
        if name == "Ref":
            return pseudo[argument] if argument in pseudo else parameters[argument]
        if name == "Fn::Sub":
            names = {**parameters, **{k: v for k, v in pseudo.items() if isinstance(v, str)}}
            return re.sub(r"\$\{([\w:]+)\}", lambda match: names[match[1]], argument)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return again(if_true if again(template["Conditions"][condition]) else if_false)
        if name == "Fn::Equals":
            left, right = argument
            return again(left) == again(right)
        if name == "Fn::Not":
            (inner,) = argument
            return not again(inner)
        assert not name.startswith("Fn::"), f"evaluate() does not know {name}"
    evaluated = {key: again(inner) for key, inner in value.items()}
    return {key: inner for key, inner in evaluated.items() if inner is not NO_VALUE}


def deployed(template: dict[str, Any], **overrides: str) -> dict[str, Any]:
    """The function's properties for a stack created with the parameters' defaults and these overrides."""
    parameters = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    properties: dict[str, Any] = evaluate(
        template["Resources"]["AblyTokenRequestFunction"]["Properties"], template, parameters | overrides
    )
    return properties


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


SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:ably-token-request/api-key-AbCdEf"


def policy(properties: dict[str, Any], template_name: str) -> dict[str, Any] | None:
    found = [p[template_name] for p in properties["Policies"] if template_name in p]
    assert len(found) <= 1, found
    return found[0] if found else None


def decrypt_via(properties: dict[str, Any]) -> str:
    (statement,) = next(p["Statement"] for p in properties["Policies"] if "Statement" in p)
    assert statement["Action"] == "kms:Decrypt"
    service: str = statement["Condition"]["StringEquals"]["kms:ViaService"]
    return service


def test_by_default_the_function_may_read_only_the_ssm_key_parameter(template: dict[str, Any]) -> None:
    properties = deployed(template)
    variables = properties["Environment"]["Variables"]
    assert "ABLY_API_KEY_SECRET_ID" not in variables
    ssm_policy = policy(properties, "SSMParameterReadPolicy")
    assert ssm_policy is not None
    # SAM's policy template grants arn:...:parameter/<ParameterName>, so the name goes without its slash.
    assert "/" + ssm_policy["ParameterName"] == variables["ABLY_API_KEY_SSM_PARAMETER"]
    assert policy(properties, "AWSSecretsManagerGetSecretValuePolicy") is None
    assert decrypt_via(properties) == f"ssm.{REGION}.amazonaws.com"


def test_with_a_secret_arn_the_function_may_read_only_that_secret(template: dict[str, Any]) -> None:
    properties = deployed(template, AblyApiKeySecretArn=SECRET_ARN)
    variables = properties["Environment"]["Variables"]
    assert "ABLY_API_KEY_SSM_PARAMETER" not in variables
    assert variables["ABLY_API_KEY_SECRET_ID"] == SECRET_ARN
    assert policy(properties, "SSMParameterReadPolicy") is None
    assert policy(properties, "AWSSecretsManagerGetSecretValuePolicy") == {"SecretArn": SECRET_ARN}
    assert decrypt_via(properties) == f"secretsmanager.{REGION}.amazonaws.com"


def test_stack_outputs_the_function_url(template: dict[str, Any]) -> None:
    assert any(
        output["Value"] == {"Fn::GetAtt": ["AblyTokenRequestFunctionUrl", "FunctionUrl"]}
        for output in template["Outputs"].values()
    )


def store_key(store: str) -> dict[str, str]:
    """Put the key where the stack's parameters say, under a fresh name (Powertools caches per name for the
    whole test process); return those parameters."""
    name = f"ably-token-request/api-key-{uuid.uuid4().hex}"
    if store == "ssm":
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=f"/{name}", Value=API_KEY, Type="SecureString"
        )
        return {"AblyApiKeyParameterName": name}
    created = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=name, SecretString=API_KEY
    )
    return {"AblyApiKeySecretArn": created["ARN"]}


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_deployed_function_signs_with_the_key_from_its_store(
    aws: None, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    properties = deployed(template, **store_key(store))
    for name, value in properties["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    # The template sets no ABLY_API_KEY; an empty one also keeps a developer's .env out of the way.
    monkeypatch.setenv("ABLY_API_KEY", "")

    module = load_handler_module(ROOT / properties["CodeUri"], properties["Handler"])
    response = module.handler(function_url_event(query={"clientId": "lambda-user"}), None)

    assert response["statusCode"] == 200
    assert KEY_SECRET not in str(response)
    body = json.loads(response["body"])
    assert body["keyName"] == KEY_NAME
    assert body["clientId"] == "lambda-user"
    assert body["mac"] == expected_mac(body, KEY_SECRET)
