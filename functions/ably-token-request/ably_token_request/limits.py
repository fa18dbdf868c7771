"""Every limit the token function enforces, in one place; the README's limits table lists the same.

Each bounds work done on untrusted input (a request) or on a deployment's configuration before it is parsed,
so a hostile or mistaken value gets a clear 4xx or the documented 500, never a RecursionError or a hang.
"""

# A POST body, after base64 decoding (ably-js sends a few form fields or a small JSON object).
MAX_BODY_BYTES = 16 * 1024
# Nesting of any JSON the function parses: a body, ABLY_TOKEN_CAPABILITY, a Secrets Manager secret.
MAX_JSON_DEPTH = 8
# A clientId, in characters (so at most 512 bytes of UTF-8).
MAX_CLIENT_ID_LENGTH = 128
# ABLY_TOKEN_CAPABILITY, in bytes of UTF-8.
MAX_CAPABILITY_BYTES = 16 * 1024
# The value read from SSM Parameter Store or Secrets Manager, in bytes of UTF-8.
MAX_STORED_KEY_BYTES = 4 * 1024
