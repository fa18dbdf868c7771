"""The apps one service hosts: each with its own keys, tokens, channels and connections, as in Ably.

An app is found from whatever a client presents: a key name (`appId.keyId`), a token this service issued
(`appId.` prefix) or an Ably JWT (its `kid` names the key). Nothing crosses from one app to another.
"""

import dataclasses
from collections.abc import Iterable
from typing import Any

from ably_local.auth import ApiKey, Authority, Clock, now_ms
from ably_local.budgets import ServiceBudgets
from ably_local.config import ServiceConfig
from ably_local.connection import Connection
from ably_local.errors import AblyError, unauthorized
from ably_local.jwt import key_name_of_jwt
from ably_local.realtime import RealtimeService


class Apps:
    def __init__(self, config: ServiceConfig, clock: Clock = now_ms) -> None:
        self.config = config
        self.clock = clock
        self.services: dict[str, RealtimeService] = {}
        # The service's totals, which every app draws on together (sandbox apps included).
        self.budgets = ServiceBudgets.within(config.limits)
        self._held: dict[str, int] = {}

    def add(
        self, app_id: str, keys: Iterable[ApiKey], held_bytes: int = 0, **settings: Any
    ) -> RealtimeService:
        """A new app with these keys; `settings` override the service config for it alone (its totals
        are the service's whatever they say). `held_bytes` is what a sandbox app keeps of its spec,
        against the sandbox's total (42910 beyond)."""
        if not self.budgets.sandbox.fits(held_bytes):
            raise AblyError(42910, 429, "The sandbox's apps hold all the bytes they may: delete some first")
        config = dataclasses.replace(self.config, **settings)
        authority = Authority(keys, clock=self.clock, limits=config.limits, budgets=self.budgets)
        service = RealtimeService(authority, config, clock=self.clock, budgets=self.budgets)
        self.services[app_id] = service
        self.budgets.sandbox.used += held_bytes
        self._held[app_id] = held_bytes
        return service

    def remove(self, app_id: str) -> RealtimeService | None:
        service = self.services.pop(app_id, None)
        if service is not None:
            for connection in list(service.connections.values()):
                service.close(connection)
                connection.closing = True
                connection.wake()
            service.release()
            self.budgets.sandbox.used -= self._held.pop(app_id, 0)
        return service

    def for_key_name(self, key_name: str) -> RealtimeService:
        service = self.services.get(key_name.partition(".")[0]) or self._holding_key(key_name)
        if service is None:
            raise unauthorized(40101, "Invalid credentials: no such app")
        if key_name not in service.authority.keys:
            raise unauthorized(40130, "Invalid key: key not recognised")
        return service

    def for_key(self, key: str) -> RealtimeService:
        return self.for_key_name(key.partition(":")[0])

    def for_token(self, token: str) -> RealtimeService:
        """The app that issued a token, or the one whose key signed a JWT."""
        key_name = key_name_of_jwt(token)
        service = self.services.get((key_name or token).partition(".")[0])
        if service is None:
            service = self._holding_key(key_name) if key_name else self._holding_token(token)
        if service is None and key_name is not None:
            raise AblyError(40400, 404, "No app or key for this JWT")  # as Authority refuses an unknown kid
        if service is None:
            raise unauthorized(40140, "Token not recognised")
        return service

    # A key added straight to an app's authority (as the shared ably-js suite runner's provisioning does)
    # need not start with the app's id; such keys, and the tokens they sign, are found by asking each app.

    def _holding_key(self, key_name: str) -> RealtimeService | None:
        return next((s for s in self.services.values() if key_name in s.authority.keys), None)

    def _holding_token(self, token: str) -> RealtimeService | None:
        return next((s for s in self.services.values() if s.authority.issued(token)), None)

    def tick(self) -> list[Connection]:
        to_close: list[Connection] = []
        for service in list(self.services.values()):
            to_close += service.tick()
        return to_close
