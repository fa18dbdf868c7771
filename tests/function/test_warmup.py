"""`GET ?warmup=1` loads the function and answers 204, and nothing else: no signing, no token."""

from tests.function.conftest import FunctionUnderTest
from tests.function.events import function_url_event, netlify_event


class SignerMustNotRun:
    def sign(self, *args: object) -> object:
        raise AssertionError("a warm-up must not sign a TokenRequest")


def test_warmup_answers_204_with_no_body_and_never_signs(token_function: FunctionUnderTest) -> None:
    token_function.function.signer = SignerMustNotRun()  # type: ignore[union-attr]

    for event in (netlify_event(query={"warmup": "1"}), function_url_event(query={"warmup": "1"})):
        result = token_function(event)
        assert result.status == 204
        assert result.response["body"] == ""
        assert result.headers["Cache-Control"] == "no-store"
        assert "Content-Type" not in result.headers
        [line] = result.log_lines
        assert (line["message"], line["outcome"], line["status"]) == ("token request", "warmup", 204)
        assert "client_id" not in line  # Powertools drops empty keys


def test_warmup_ignores_a_client_id_and_sends_cors_headers_to_allowed_origins(
    token_function: FunctionUnderTest,
) -> None:
    origin = "https://example.netlify.app"
    result = token_function(
        netlify_event(query={"warmup": "1", "clientId": "alice"}, headers={"origin": origin})
    )
    assert result.status == 204
    assert result.headers["Access-Control-Allow-Origin"] == origin
    assert "client_id" not in result.log_lines[0]


def test_only_get_with_warmup_1_is_a_warmup(token_function: FunctionUnderTest) -> None:
    assert token_function(netlify_event(query={"warmup": "0"})).status == 200
    assert token_function(netlify_event(query={"warmup": ["1", "1"]})).status == 200
    post = netlify_event(
        "POST", query={"warmup": "1"}, headers={"content-type": "application/json"}, body="{}"
    )
    assert token_function(post).status == 200
