"""One fake model server per test session, and settings that may reach it (127.0.0.1 is
allow-listed explicitly, as an operator would list a private model host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from labelhouse.config import Settings
from tests.models_loop.fake_model import FakeModel, fake_model_server

SECRET_KEY = "test-only-models-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def model_server() -> Iterator[FakeModel]:
    with fake_model_server() as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "models_allow": "127.0.0.1/32",
            "models_allow_http": True,
            "models_secret_key": SecretStr(SECRET_KEY),
            "models_timeout": 10.0,
        }
    )
