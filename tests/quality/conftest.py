"""Shared fixtures: the synthetic-crowd generator from ``bench/crowd.py`` (one generator for
benchmarks and tests, loaded by path because ``bench/`` is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CROWD_PATH = Path(__file__).resolve().parents[2] / "bench" / "crowd.py"


def _load_crowd() -> ModuleType:
    if "labelhouse_bench_crowd" in sys.modules:
        return sys.modules["labelhouse_bench_crowd"]
    spec = importlib.util.spec_from_file_location("labelhouse_bench_crowd", CROWD_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def crowd_module() -> ModuleType:
    return _load_crowd()


@pytest.fixture(scope="session")
def crowd(crowd_module: ModuleType):
    """2,000 items, 4 imbalanced classes, 60 workers of all four types, 3–7 labels per item."""
    return crowd_module.make_crowd(2000, 4, 60, (3, 7), imbalance=0.4, seed=7)
