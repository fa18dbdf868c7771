"""The Ably token-request function: hands browsers signed TokenRequests so the API key stays secret."""
