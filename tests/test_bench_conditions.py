"""bench/conditions.py: every benchmark's conditions block and same-run calibration."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _conditions():
    spec = importlib.util.spec_from_file_location("bench_conditions", BENCH / "conditions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_block_names_the_machine_versions_and_a_calibration_from_this_run() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "conditions.py")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    block = orjson.loads(out.stdout)
    assert block["cpus"] >= 1 and block["cpu"]
    assert len(block["load_before"]) == 3 and len(block["load_after"]) == 3
    assert block["python"].count(".") == 2 and block["sqlite"].startswith("3.")
    calibration = block["calibration"]
    for name in ("py_ms", "sqlite_ms", "http_rt_ms", "http_cpu_ms"):
        assert calibration[name] > 0, name
    assert "── conditions ──" in out.stderr and "calibration: py_ms=" in out.stderr


def test_every_benchmark_prints_its_conditions() -> None:
    scripts = [
        p
        for p in BENCH.glob("*.py")
        if p.stem not in {"common", "crowd", "conditions"} and "__main__" in p.read_text()
    ]
    assert len(scripts) >= 20
    missing = [p.name for p in scripts if "with_conditions(main" not in p.read_text()]
    assert not missing, f"benchmarks without a conditions block: {missing}"


def test_ratio_is_in_units_of_the_running_calibration() -> None:
    conditions = _conditions()
    conditions.CURRENT.update({"calibration": {"http_cpu_ms": 0.2, "http_rt_ms": None}})
    assert conditions.ratio(1.0, "http_cpu_ms") == 5.0
    assert conditions.ratio(1.0, "http_rt_ms") is None
