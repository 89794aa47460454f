from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.media_server import MediaServer, media_server


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    with media_server("127.0.0.1") as s:
        yield s


@pytest.fixture(scope="module")
def front() -> Iterator[MediaServer]:
    """A second server, on another loopback address (the "allowed host" of redirect tests)."""
    with media_server("127.0.0.2") as s:
        yield s
