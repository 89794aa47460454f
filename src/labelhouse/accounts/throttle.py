"""Login throttling: after repeated failures for an e-mail or a client address, refuse
further attempts for a while (argon2 makes each guess cost the server ~0.2 s of CPU, so
unthrottled guessing is also a denial of service).

In-process by design (no extra service to run); with several app servers each enforces the
limit on its own, which still caps guessing at N × the limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 10
WINDOW_SECONDS = 300.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str, now: float | None = None) -> float:
        """Seconds to wait before another attempt is allowed (0 if allowed now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = 0.0
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, q[0] + self.window - now)
            return wait

    def failed(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of keys
                self._failures.clear()

    def succeeded(self, email_key: str) -> None:
        with self._lock:
            self._failures.pop(email_key, None)
