"""Hugging Face dataset exports loaded by ``datasets.load_from_disk``: ClassLabel names for
choice fields (``int2str`` gives the labels back), lists for multi-choice, spans and
rankings, for raw and consensus values; without ``datasets`` the format is refused."""

from __future__ import annotations

import importlib.util

import pytest

from tests.exports.formats.world import build, export, unzip
from tests.factories import login

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()


@pytest.fixture
def world(db, owner):
    return build(db, owner)


def load(app, owner, pid, tmp_path, **options):
    r = export(app, owner, pid, "hf_dataset", **options)
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].endswith(f'-{pid}.hf.zip"')
    folder = unzip(r.content, tmp_path / "out")
    return datasets.load_from_disk(str(folder / "dataset"))


def test_raw_answers_load_with_class_labels_and_sequences(app, owner, world, tmp_path):
    ds = load(app, owner, world["pid"], tmp_path)
    f = ds.features
    assert isinstance(f["label"], datasets.ClassLabel)
    assert f["label"].names == ["pos", "neg", "neu"]
    assert isinstance(f["tags"], datasets.List)
    assert isinstance(f["tags"].feature, datasets.ClassLabel)
    assert f["score"] == datasets.Value("int64")
    assert isinstance(f["ents"], datasets.List)
    assert f["ents"].feature["label"] == datasets.Value("string")
    assert f["order"] == datasets.List(datasets.Value("int64"))
    assert isinstance(f["pref"]["choice"], datasets.ClassLabel)
    assert f["prompt"] == datasets.Value("string")
    assert len(ds) == 6
    row = next(r for r in ds if r["external_id"] == "t0" and len(r["tags"]) == 2)
    assert f["label"].int2str(row["label"]) == "neg"
    assert [f["tags"].feature.int2str(i) for i in row["tags"]] == ["a", "c"]
    assert f["pref"]["choice"].int2str(row["pref"]["choice"]) == "B"
    assert [s["text"] for s in row["ents"]] == ["Ada", "Paris"]
    assert row["provenance"]["pre_annotated"] is True
    assert row["provenance"]["annotator"].startswith("a-")


def test_consensus_values_load(app, owner, world, tmp_path):
    ds = load(app, owner, world["pid"], tmp_path, values="consensus", provenance="none")
    assert "provenance" not in ds.column_names
    assert len(ds) == 3
    by_task = {r["external_id"]: r for r in ds}
    label = ds.features["label"]
    assert label.int2str(by_task["t0"]["label"]) == "neg"
    assert label.int2str(by_task["t1"]["label"]) == "pos"  # the reviewer's correction
    assert by_task["t1"]["order"] == [1, 2, 3]


def test_the_format_is_refused_without_datasets(app, owner, world, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "datasets" else real(name, *a)
    )
    r = login(app, owner).get(
        f"/api/projects/{world['pid']}/export", params={"format": "hf_dataset"}
    )
    assert r.status_code == 422
    assert "pip install 'labelhouse[ml]'" in r.json()["error"]["message"]
