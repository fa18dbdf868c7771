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
# A JWT as issued (ABLY_TOKEN_FORMAT=jwt), in bytes. ably-js sends it in the WebSocket URL (access_token=)
# and, base64-encoded once more, in a REST request's Authorization header (4/3 as long); 6,000 keeps both
# inside the 8 KiB header line many servers accept (Ably: JWTs "must fit within HTTP header limits, typically
# around 8 KB"). Checked at start-up against the largest token the configuration can produce.
MAX_JWT_BYTES = 6000
# The key name (a JWT's `kid`) the start-up check allows for when the key is read from a key store later;
# Ably's are about 13 characters (appId.keyId).
MAX_JWT_KEY_NAME_LENGTH = 64
# A Netlify Identity user's roles (app_metadata.roles) carried in a JWT: how many, and the bytes their
# claim takes in the token (per resource of the capability, so the start-up check can bound the total).
MAX_IDENTITY_ROLES = 10
MAX_ROLES_CLAIM_BYTES = 256
