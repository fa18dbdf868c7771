"""The AWS SAM template: valid offline, least privilege, SnapStart behind an alias, a per-address rate limit
in front (AWS WAF on a REST API, the Netlify deploy's numbers) or the bare Function URL, built without the
Netlify output, wired to the real handler, and both key stores working end to end (moto)."""

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str

from ably_token_request.settings import TOKEN_FORMATS
from devserver.function_config import declared_rate_limits
from tests.conftest import AWS_REGION as REGION
from tests.docs import snippet
from tests.function.conftest import API_KEY, KEY_NAME, KEY_SECRET
from tests.function.events import api_gateway_v1_event, function_url_event
from tests.function.signing import expected_mac, verified_jwt

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ably-token-request/api-key-AbCdEf"
KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PARAMETER_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ably-token-request/api-key"


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
        pseudo = {
            "AWS::NoValue": NO_VALUE,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "stack",
        }
        if name == "Ref":
            if argument in pseudo:
                return pseudo[argument]
            return parameters.get(argument, f"<{argument}>")  # a resource: its placeholder
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            names = {
                **parameters,
                **{k: v for k, v in pseudo.items() if isinstance(v, str)},
                "AWS::URLSuffix": "amazonaws.com",
                **{k: str(again(v)) for k, v in variables.items()},
            }
            # ${Resource.Attribute} stays a readable placeholder: <Resource.Attribute>.
            return re.sub(r"\$\{([\w:.]+)\}", lambda match: names.get(match[1], f"<{match[1]}>"), text)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return again(if_true if again(template["Conditions"][condition]) else if_false)
        if name == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        if name == "Fn::Split":
            separator, text = argument
            return again(text).split(separator)
        if name == "Fn::Equals":
            left, right = argument
            return again(left) == again(right)
        if name == "Fn::Not":
            (inner,) = argument
            return not again(inner)
        assert not name.startswith("Fn::"), f"evaluate() does not know {name}"
    evaluated = {key: again(inner) for key, inner in value.items()}
    return {key: inner for key, inner in evaluated.items() if inner is not NO_VALUE}


def stack_parameters(template: dict[str, Any], **overrides: str) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()} | overrides


def deployed(template: dict[str, Any], resource: str = "AblyTokenRequestFunction", **overrides: str) -> Any:
    """A resource's properties for a stack created with the parameters' defaults and these overrides."""
    return evaluate(
        template["Resources"][resource]["Properties"], template, stack_parameters(template, **overrides)
    )


def created(template: dict[str, Any], **overrides: str) -> set[str]:
    """The resources a stack created with these parameters has (their Conditions hold)."""
    parameters = stack_parameters(template, **overrides)
    return {
        name
        for name, resource in template["Resources"].items()
        if "Condition" not in resource
        or evaluate(template["Conditions"][resource["Condition"]], template, parameters)
    }


def endpoint(template: dict[str, Any], **overrides: str) -> Any:
    """The stack's TokenFunctionUrl output."""
    output = template["Outputs"]["TokenFunctionUrl"]["Value"]
    return evaluate(output, template, stack_parameters(template, **overrides))


def role_statements(template: dict[str, Any], **overrides: str) -> list[dict[str, Any]]:
    role = deployed(template, "AblyTokenRequestRole", **overrides)
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


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
        [str(ROOT / ".venv" / "bin") + "/cfn-lint", str(TEMPLATE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_supported_python_with_snapstart_on_published_versions_behind_an_alias(
    function: dict[str, Any],
) -> None:
    runtime = re.fullmatch(r"python3\.(\d+)", function["Runtime"])
    assert runtime is not None
    assert int(runtime[1]) >= 12  # SnapStart's first Python; python3.11 is deprecated from 2027-06-30
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # SAM publishes a version per change and points the alias at it; the front door invokes the alias, so
    # callers always reach a SnapStart version, never $LATEST.
    assert function["AutoPublishAlias"]
    assert "FunctionUrlConfig" not in function  # the front door is chosen by FrontDoor (below)


def test_the_function_runs_the_handler_from_its_code_uri(function: dict[str, Any]) -> None:
    code_uri = ROOT / function["CodeUri"]
    module_name, attribute = function["Handler"].rsplit(".", 1)
    module = load_handler_module(code_uri, function["Handler"])
    assert callable(getattr(module, attribute))
    assert Path(module.__file__ or "").resolve() == (code_uri / f"{module_name}.py").resolve()


def test_logs_go_to_a_log_group_with_retention_and_concurrency_is_capped(template: dict[str, Any]) -> None:
    properties = deployed(template, MaxConcurrency="7")
    assert properties["LoggingConfig"] == {"LogGroup": "<AblyTokenRequestLogGroup>"}
    assert properties["Role"] == "<AblyTokenRequestRole.Arn>"
    log_group = deployed(template, "AblyTokenRequestLogGroup")
    assert int(log_group["RetentionInDays"]) == 30
    assert properties["ReservedConcurrentExecutions"] == "7"
    assert "ReservedConcurrentExecutions" in deployed(template)  # capped by default
    assert "ReservedConcurrentExecutions" not in deployed(template, MaxConcurrency="0")


def test_by_default_the_role_may_only_write_its_logs_and_get_the_one_ssm_parameter(
    template: dict[str, Any],
) -> None:
    statements = role_statements(template)
    variables = deployed(template)["Environment"]["Variables"]
    assert "ABLY_API_KEY_SECRET_ID" not in variables
    assert variables["ABLY_API_KEY_SSM_PARAMETER"] == "/ably-token-request/api-key"
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["logs:CreateLogStream", "logs:PutLogEvents"], "<AblyTokenRequestLogGroup.Arn>:*"),
        ("ssm:GetParameter", PARAMETER_ARN),
    ]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not any("*" in s["Resource"].removesuffix(":*") for s in statements)
    assert "Policies" not in deployed(template)  # no SAM policy templates (DescribeParameters on *)


def test_with_a_secret_arn_the_role_may_only_get_that_secret(template: dict[str, Any]) -> None:
    statements = role_statements(template, AblyApiKeySecretArn=SECRET_ARN)
    variables = deployed(template, AblyApiKeySecretArn=SECRET_ARN)["Environment"]["Variables"]
    assert "ABLY_API_KEY_SSM_PARAMETER" not in variables
    assert variables["ABLY_API_KEY_SECRET_ID"] == SECRET_ARN
    assert [(s["Action"], s["Resource"]) for s in statements[1:]] == [
        ("secretsmanager:GetSecretValue", SECRET_ARN)
    ]


@pytest.mark.parametrize(
    ("overrides", "service", "context"),
    [
        ({}, "ssm", {"kms:EncryptionContext:PARAMETER_ARN": PARAMETER_ARN}),
        (
            {"AblyApiKeySecretArn": SECRET_ARN},
            "secretsmanager",
            {"kms:EncryptionContext:SecretARN": SECRET_ARN},
        ),
    ],
    ids=["ssm", "secretsmanager"],
)
def test_kms_decrypt_only_with_a_customer_key_only_for_that_key_and_that_key_store(
    template: dict[str, Any], overrides: dict[str, str], service: str, context: dict[str, str]
) -> None:
    assert not any(s["Action"] == "kms:Decrypt" for s in role_statements(template, **overrides))
    (decrypt,) = [
        s
        for s in role_statements(template, KeyKmsKeyArn=KMS_KEY_ARN, **overrides)
        if s["Action"] == "kms:Decrypt"
    ]
    assert decrypt["Resource"] == KMS_KEY_ARN
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"{service}.{REGION}.amazonaws.com", **context}
    }


def test_by_default_waf_limits_each_address_as_the_netlify_deploy_does(template: dict[str, Any]) -> None:
    """The function's declared Netlify limit, 60 in 60 s per address, as an AWS WAF rate-based rule: past it
    WAF answers 429 itself, before the function runs, with Retry-After and the error in Ably's shape."""
    (netlify,) = declared_rate_limits(ROOT / "functions").values()
    acl = deployed(template, "TokenApiWebAcl")
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    (rule,) = acl["Rules"]
    limit = rule["Statement"]["RateBasedStatement"]
    assert limit["AggregateKeyType"] == "IP"
    assert int(limit["Limit"]) == netlify.window_limit
    assert limit["EvaluationWindowSec"] == netlify.window_size_s
    answer = rule["Action"]["Block"]["CustomResponse"]
    assert answer["ResponseCode"] == 429
    headers = {header["Name"]: header["Value"] for header in answer["ResponseHeaders"]}
    assert headers == {"retry-after": "60", "x-ably-errorcode": "42910", "cache-control": "no-store"}
    body = acl["CustomResponseBodies"][answer["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    error = json.loads(body["Content"])["error"]
    assert (error["code"], error["statusCode"]) == (42910, 429)
    assert "60 in 60 s" in error["message"]
    (tuned,) = deployed(template, "TokenApiWebAcl", PerAddressLimit="25")["Rules"]
    assert int(tuned["Statement"]["RateBasedStatement"]["Limit"]) == 25
    assert template["Parameters"]["PerAddressLimit"]["MinValue"] == 10  # WAF's lowest


def test_the_rate_limited_front_door_is_the_only_way_in(template: dict[str, Any]) -> None:
    """WAF attaches to a REST API stage, not to a Function URL: by default there is no Function URL to go
    around it; the REST API invokes the live alias and the web ACL guards its stage."""
    resources = created(template)
    assert {
        "TokenApi",
        "TokenApiRootMethod",
        "TokenApiStage",
        "TokenApiWebAcl",
        "TokenApiWebAclAssociation",
    } <= resources
    assert not any(template["Resources"][name]["Type"] == "AWS::Lambda::Url" for name in resources)
    method = deployed(template, "TokenApiRootMethod")
    assert (method["HttpMethod"], method["AuthorizationType"]) == ("ANY", "NONE")
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert "/functions/<AblyTokenRequestFunction.Alias>/invocations" in method["Integration"]["Uri"]
    permission = deployed(template, "TokenApiInvokePermission")
    assert permission["FunctionName"] == "<AblyTokenRequestFunction.Alias>"
    assert permission["SourceArn"].endswith(":<TokenApi>/*/*/")
    association = deployed(template, "TokenApiWebAclAssociation")
    assert association == {
        "ResourceArn": f"arn:aws:apigateway:{REGION}::/restapis/<TokenApi>/stages/<TokenApiStage>",
        "WebACLArn": "<TokenApiWebAcl.Arn>",
    }
    assert endpoint(template) == f"https://<TokenApi>.execute-api.{REGION}.amazonaws.com/<TokenApiStage>/"


def test_front_door_function_url_is_the_bare_public_url_without_waf(template: dict[str, Any]) -> None:
    resources = created(template, FrontDoor="FunctionUrl")
    assert not {name for name in resources if name.startswith("TokenApi")}
    url = deployed(
        template, "AblyTokenRequestUrl", FrontDoor="FunctionUrl", AllowedOrigins="https://a.example"
    )
    assert url["TargetFunctionArn"] == "<AblyTokenRequestFunction.Alias>"
    assert url["AuthType"] == "NONE"
    assert url["Cors"]["AllowOrigins"] == ["https://a.example"]
    assert url["Cors"]["ExposeHeaders"] == ["x-ably-errorcode"]
    permission = deployed(template, "AblyTokenRequestUrlPermission", FrontDoor="FunctionUrl")
    assert (permission["Action"], permission["FunctionUrlAuthType"]) == ("lambda:InvokeFunctionUrl", "NONE")
    assert endpoint(template, FrontDoor="FunctionUrl") == "<AblyTokenRequestUrl.FunctionUrl>"


def test_sam_build_packages_the_python_function_and_never_the_netlify_output(
    template: dict[str, Any], function: dict[str, Any], pyodide_bundle: Path, tmp_path: Path
) -> None:
    """The makefile build SAM runs, with the Netlify bundle present beside the sources."""
    resource = template["Resources"]["AblyTokenRequestFunction"]
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    subprocess.run(
        ["make", "build-AblyTokenRequestFunction", f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
        cwd=ROOT / function["CodeUri"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shipped = {path.relative_to(artifacts).as_posix() for path in artifacts.rglob("*") if path.is_file()}
    assert "handler.py" in shipped
    assert "ably_token_request/signer.py" in shipped
    assert "ably_token_request/jwt_signer.py" in shipped
    assert "ably/types/tokenrequest.py" in shipped
    netlify_output = {"ably-token-request.mjs", "pyodide-runtime.js", "Makefile", "requirements.txt"}
    assert not netlify_output & shipped
    assert not any(name.startswith("pyodide-bundle/") for name in shipped)
    assert not any(name.startswith(("httpx/", "websockets/", "node_modules/")) for name in shipped)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABLY_")}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import handler; print(handler.handler({'httpMethod': 'GET', 'headers': {}}, None)['body'])",
        ],
        cwd=artifacts,
        env={**environment, "ABLY_API_KEY": API_KEY, "PYTHONPATH": str(artifacts)},
        capture_output=True,
        text=True,
        check=True,
    )
    body = json.loads(completed.stdout.strip().splitlines()[-1])
    assert body["mac"] == expected_mac(body, KEY_SECRET)
    as_jwt = subprocess.run(
        completed.args,
        cwd=artifacts,
        env={
            **environment,
            "ABLY_API_KEY": API_KEY,
            "ABLY_TOKEN_FORMAT": "jwt",
            "PYTHONPATH": str(artifacts),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert verified_jwt(as_jwt.stdout.strip().splitlines()[-1], KEY_SECRET)[0]["kid"] == KEY_NAME


def test_token_format_and_publish_rate_reach_the_function(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert tuple(parameters["TokenFormat"]["AllowedValues"]) == TOKEN_FORMATS
    assert parameters["TokenFormat"]["Default"] == "token-request"
    defaults = deployed(template)["Environment"]["Variables"]
    assert (defaults["ABLY_TOKEN_FORMAT"], defaults["ABLY_PUBLISH_MAX_RATE"]) == ("token-request", "")
    jwt = deployed(template, TokenFormat="jwt", PublishMaxRate="2.5")["Environment"]["Variables"]
    assert (jwt["ABLY_TOKEN_FORMAT"], jwt["ABLY_PUBLISH_MAX_RATE"]) == ("jwt", "2.5")
    rate = re.compile(parameters["PublishMaxRate"]["AllowedPattern"])
    assert all(rate.fullmatch(value) for value in ("", "10", "0.5", ".5", "7."))
    assert not any(rate.fullmatch(value) for value in ("-1", "fast", "1e3", "inf", "10/s", " 5"))


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


@pytest.mark.parametrize(("store", "front_door"), [("ssm", "RateLimited"), ("secretsmanager", "FunctionUrl")])
def test_deployed_function_signs_with_the_key_from_its_store(
    aws: None, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, store: str, front_door: str
) -> None:
    properties = deployed(template, FrontDoor=front_door, **store_key(store))
    for name, value in properties["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    # The template sets no ABLY_API_KEY; an empty one also keeps a developer's .env out of the way.
    monkeypatch.setenv("ABLY_API_KEY", "")

    module = load_handler_module(ROOT / properties["CodeUri"], properties["Handler"])
    # What each front door sends: API Gateway REST (payload 1.0) or the Function URL (2.0).
    event = api_gateway_v1_event if front_door == "RateLimited" else function_url_event
    response = module.handler(event(query={"clientId": "lambda-user"}), None)

    assert response["statusCode"] == 200
    assert KEY_SECRET not in str(response)
    body = json.loads(response["body"])
    assert body["keyName"] == KEY_NAME
    assert body["clientId"] == "lambda-user"
    assert body["mac"] == expected_mac(body, KEY_SECRET)


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_deployed_function_issues_jwts_with_the_key_from_its_store(
    aws: None, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    """TokenFormat=jwt with a publish rate, behind the default front door, the key read from its store."""
    properties = deployed(template, TokenFormat="jwt", PublishMaxRate="4", **store_key(store))
    for name, value in properties["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ABLY_API_KEY", "")

    module = load_handler_module(ROOT / properties["CodeUri"], properties["Handler"])
    response = module.handler(api_gateway_v1_event(query={"clientId": "lambda-user"}), None)

    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "application/jwt"
    header, claims = verified_jwt(response["body"], KEY_SECRET)
    assert header["kid"] == KEY_NAME
    assert claims["x-ably-clientId"] == "lambda-user"
    assert claims["ably.limits.publish.perAttachment.maxRate.chat:*"] == 4


def test_the_readme_deploy_commands_store_the_key_where_the_stack_reads_it(
    aws: None, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's two commands: `aws ssm put-parameter` (run here against moto, through boto3, with the
    arguments as printed), then `sam build && sam deploy --guided` with the template's defaults."""
    put_parameter, deploy = snippet("sam-deploy").text.splitlines()
    argv = shlex.split(put_parameter)
    assert argv[:3] == ["aws", "ssm", "put-parameter"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["--type"] == "SecureString"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Type="SecureString", Name=options["--name"], Value=options["--value"]
    )
    assert deploy == "sam build && sam deploy --guided"  # the build is test_sam_build_packages_...

    properties = deployed(template)  # --guided offers the defaults
    for name, value in properties["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ABLY_API_KEY", "")
    module = load_handler_module(ROOT / properties["CodeUri"], properties["Handler"])
    response = module.handler(function_url_event(query={"clientId": "lambda-user"}), None)

    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    key_name, secret = options["--value"].split(":")
    assert body["keyName"] == key_name
    assert body["mac"] == expected_mac(body, secret)
