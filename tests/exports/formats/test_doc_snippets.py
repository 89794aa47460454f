"""The loading snippets of docs/export.md ("```python load <format>") run against real
exports of the test project, saved under the file names the snippets use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.exports.formats.world import build, export

DOC = Path(__file__).resolve().parents[3] / "docs" / "export.md"
SNIPPET = re.compile(r"```python load (\w+)\n(.*?)```", re.S)
FILES = {
    "parquet": "labels.parquet",
    "hf_dataset": "labels.hf.zip",
    "trl_preference": "pairs.dpo.jsonl",
    "trl_kto": "ratings.kto.jsonl",
    "trl_sft": "demos.sft.jsonl",
}
OPTIONS = {"trl_preference": {"field": "pref"}}


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall(DOC.read_text(encoding="utf-8")))


def test_every_snippet_names_a_file_the_test_writes():
    found = snippets()
    assert set(found) == set(FILES)
    for fmt, code in found.items():
        assert FILES[fmt] in code


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_snippet_loads_the_export(app, db, owner, tmp_path, monkeypatch, fmt):
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    pid = build(db, owner)["pid"]
    (tmp_path / FILES[fmt]).write_bytes(
        export(app, owner, pid, fmt, **OPTIONS.get(fmt, {})).content
    )
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(snippets()[fmt], f"docs/export.md ({fmt})", "exec"), scope)
    loaded = next(scope[name] for name in ("table", "ds", "pairs", "kto", "sft") if name in scope)
    assert loaded is not None and len(loaded) > 0
