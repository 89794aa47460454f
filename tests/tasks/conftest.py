"""Fixtures shared by the task tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def writers(monkeypatch):
    """The bulk writers the imports of a test opened (to see which path they took)."""
    import labelhouse.tasks.importer as importer

    opened = []
    real = importer.open_writer

    def recording(*args, **kwargs):
        writer = real(*args, **kwargs)
        opened.append(writer)
        return writer

    monkeypatch.setattr(importer, "open_writer", recording)
    return opened
