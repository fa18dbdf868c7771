"""Every limit the dev server enforces, in one place (the README's dev-server limits table lists them).

The WebSocket frame limit is not here: it is the local realtime service's advertised `maxFrameSize`
(`LocalAbly.service.limits.max_frame_size`), so the dev server never accepts a frame the service would not.
"""

# AWS Lambda's synchronous request payload limit, which Netlify functions share: the dev server refuses
# (413) what production would refuse, and refuses it before buffering it.
MAX_REQUEST_BODY_BYTES = 6 * 1024 * 1024

# A request's line and headers must arrive within this long of the connection opening (or of the previous
# response on a kept-alive connection), so a client that trickles bytes cannot hold a connection forever.
HEADER_READ_TIMEOUT_S = 10.0

# The request line and headers together, however they arrive: past it a 431 and the connection closed.
MAX_HEADER_BYTES = 16 * 1024

# A function call that has not answered by then gets a 504 (its worker thread is left to finish).
FUNCTION_TIMEOUT_S = 10

# What a function writes to stdout while serving one request, held to fold into its terminal line
# (request_log.py); past it, the rest goes to the terminal as it is written.
MAX_FUNCTION_OUTPUT_CHARS = 64 * 1024

# Per-address rate limits (a function's declared config.rateLimit, rate_limit.py): the request times kept to
# apply them, across all client addresses, per function; the addresses seen least recently go first past it.
MAX_RATE_LIMIT_ENTRIES = 100_000
