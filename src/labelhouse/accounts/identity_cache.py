"""A short-lived, in-process cache of authenticated identities (token or session → actor).

Resolving a bearer token or session cookie costs a database round trip on every request;
on the annotator's hot path that was a tenth of the server's work. Entries live a few
seconds, so a revocation, logout, role change or deactivation made on *another* app
server takes effect within ``ttl`` seconds; in this process the change clears the cache
at once. Keys are SHA-256 digests, never the secrets themselves.
"""

from __future__ import annotations

import threading
import time
from typing import Any

DEFAULT_TTL = 5.0
MAX_ENTRIES = 10_000


class IdentityCache:
    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            with self._lock:
                self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
