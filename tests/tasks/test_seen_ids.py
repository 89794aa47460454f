"""The table of an import's seen external ids once it spills to disk: sorted runs in
temporary files, merged as they pile up, a bounded Bloom filter in front. A tiny spill
threshold makes every path run on a few rows; the answers must be those of a plain dict."""

from __future__ import annotations

import errno
import io
import math
import os
import random

import pytest

from labelhouse.errors import InvalidInput, Unavailable
from labelhouse.tasks import seen_ids
from labelhouse.tasks.importer import run_import
from labelhouse.tasks.seen_ids import BLOCK, SeenIds
from tests.factories import make_project, text_rows
from tests.helpers_data import count_tasks, imports_of, jsonl_bytes, tasks_of


def first_places(ids: list[str]) -> list[int | None]:
    """What the table must answer: None for a new id, else the place it first had."""
    first: dict[str, int] = {}
    return [None if first.setdefault(x, i + 1) == i + 1 else first[x] for i, x in enumerate(ids)]


def added(seen: SeenIds, ids: list[str]) -> list[int | None]:
    return [seen.add(x, f"x:{x}", i + 1) for i, x in enumerate(ids)]


def check_runs(seen: SeenIds) -> None:
    """Each run sorted with its block index right; no hash stored twice."""
    hashes = []
    for run in seen._runs:
        pairs = run.read(0, run.count)
        assert (pairs[1:, 0] > pairs[:-1, 0]).all()
        assert (run.fence == pairs[::BLOCK, 0]).all()
        hashes.extend(pairs[:, 0].tolist())
    assert len(hashes) == len(set(hashes)) == seen._on_disk


@pytest.mark.parametrize("spill_at", [1, 3, 64, 1000])
def test_answers_match_a_dict_across_spills_and_merges(spill_at):
    rnd = random.Random(spill_at)
    ids = [str(rnd.randrange(6000)) for _ in range(12_000)]  # about half are repeats
    seen = SeenIds(spill_at=spill_at)
    assert added(seen, ids) == first_places(ids)
    assert len(seen) == len(set(ids))
    check_runs(seen)
    seen.close()


def test_runs_are_merged_so_that_at_most_log2_of_them_stay():
    seen = SeenIds(spill_at=10)
    for i in range(10 * 1000):
        seen.add(f"id-{i}", f"x:id-{i}", i + 1)
        assert seen.runs <= math.log2(max(1, seen._on_disk / 10)) + 1
    assert seen.runs == bin(1000).count("1")  # sizes of distinct powers of two, as a counter
    check_runs(seen)


def test_a_repeat_across_a_spill_boundary_names_the_first_place():
    seen = SeenIds(spill_at=4)
    assert seen.add("a", "x:a", 1) is None
    for i in range(2, 4):
        assert seen.add(f"f{i}", f"x:f{i}", i) is None
    assert seen.runs == 0  # "a" is still in the dict
    assert seen.add("b", "x:b", 4) is None  # the fourth id: the dict is written out
    assert seen.runs == 1 and len(seen._recent) == 0
    assert seen.add("a", "x:a", 5) == 1  # found on disk
    for i in range(6, 200):  # more runs, merged
        seen.add(f"g{i}", f"x:g{i}", i)
    assert seen.add("a", "x:a", 999) == 1
    assert seen.add("b", "x:b", 999) == 4


def test_an_overfull_filter_only_costs_lookups(monkeypatch):
    """A filter far too small for the ids (every bit set): every new id reads the runs, the
    answers stay exact."""
    monkeypatch.setattr(seen_ids, "FILTER_MIN_BITS", 64)
    monkeypatch.setattr(seen_ids, "FILTER_MAX_BITS", 64)
    ids = [f"id-{i % 3000}" for i in range(4000)]
    seen = SeenIds(spill_at=50)
    assert added(seen, ids) == first_places(ids)
    assert len(seen._bits) == 8


def test_memory_stays_bounded_whatever_the_count_and_length(monkeypatch):
    """In memory: the dict (at most spill_at ids), the filter (capped), 8 bytes of block
    index per 256 ids. The rest is on disk, 16 bytes an id."""
    monkeypatch.setattr(seen_ids, "FILTER_MAX_BITS", 1 << 20)
    short, long = SeenIds(spill_at=1000), SeenIds(spill_at=1000)
    sizes = []
    for i in range(1, 200_001):
        short.add(str(i), f"x:{i}", i)
        long.add(f"{i}".rjust(200, "x"), f"x:{i}".rjust(202, "x"), i)
        if i in (50_000, 200_000):
            sizes.append(short.nbytes)
    assert short.nbytes == long.nbytes
    assert sizes[1] - sizes[0] <= 150_000 * 8 / BLOCK + 1000  # only the block index grew
    assert short.disk_bytes == 16 * 200_000


def test_places_past_four_billion_survive_the_disk():
    seen = SeenIds(spill_at=1)
    seen.add("far", "x:far", 5_000_000_000)
    seen.add("other", "x:other", 2**40 - 1)
    assert seen.runs == 1
    assert seen.add("far", "x:far", 5_000_000_001) == 5_000_000_000
    assert seen.add("other", "x:other", 7) == 2**40 - 1


def test_the_files_are_unlinked_and_closed(tmp_path):
    seen = SeenIds(spill_at=5, spill_dir=str(tmp_path))
    for i in range(100):
        seen.add(str(i), f"x:{i}", i + 1)
    assert seen.runs > 0
    assert list(tmp_path.iterdir()) == []  # nothing to leave behind, even if killed
    files = [run.file for run in seen._runs]
    seen.close()
    assert all(f.closed for f in files)
    assert (seen.runs, len(seen)) == (0, 0)
    assert seen.add("1", "x:1", 7) is None  # forgotten


def test_a_full_temporary_folder_is_an_error_that_says_what_to_do(monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(seen_ids, "pwrite", full)
    seen = SeenIds(spill_at=3)
    seen.add("a", "x:a", 1)
    seen.add("b", "x:b", 2)
    with pytest.raises(Unavailable) as exc:
        seen.add("c", "x:c", 3)
    assert "set TMPDIR to a folder with room" in exc.value.message
    assert "No space left on device" in exc.value.hint


# -- through the importer, both databases ---------------------------------------------------


@pytest.fixture
def project(db, owner):
    return make_project(db, owner)


@pytest.fixture
def tiny_spills(monkeypatch):
    monkeypatch.setattr(seen_ids, "SPILL_AT", 7)


def service_import(db, owner, project_id, data: bytes, **kwargs):
    return run_import(db, owner.actor, project_id, io.BytesIO(data), filename="t.jsonl", **kwargs)


def test_a_repeat_after_many_spills_refuses_the_import_naming_the_first_line(
    db, owner, project, tiny_spills
):
    rows = [*text_rows(300), {"external_id": "t3", "text": "again"}]
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, jsonl_bytes(rows))
    [problem] = exc.value.details
    assert problem.field == "line 301"
    assert problem.problem == "external_id 't3' already appears on line 4 of this file"
    assert count_tasks(db, project) == 0
    assert imports_of(db, project) == []


def test_skip_invalid_keeps_the_first_of_ids_repeated_across_spills(
    db, owner, project, tiny_spills
):
    rows = text_rows(100)
    repeats = [dict(rows[i], text=f"again {i}") for i in (0, 6, 7, 50, 99)]
    result = service_import(db, owner, project, jsonl_bytes(rows + repeats), skip_invalid=True)
    assert (result.created, result.rejected, result.duplicates) == (100, 5, 0)
    assert [s["problems"][0].split(" already appears ")[1] for s in result.rejected_sample] == [
        f"on line {i + 1} of this file" for i in (0, 6, 7, 50, 99)
    ]
    assert not any(t.data["text"].startswith("again") for t in tasks_of(db, project))


def test_a_full_temporary_folder_stores_nothing(db, owner, project, tiny_spills, monkeypatch):
    service_import(db, owner, project, jsonl_bytes(text_rows(3)))  # a task that must stay

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(seen_ids, "pwrite", full)
    rows = [{"external_id": f"new{i}", "text": f"t{i}"} for i in range(50)]
    with pytest.raises(Unavailable):
        service_import(db, owner, project, jsonl_bytes(rows))
    assert count_tasks(db, project) == 3
    assert len(imports_of(db, project)) == 1


def test_unique_contents_across_many_spills_stay_direct(db, owner, project, tiny_spills, writers):
    rows = [{"text": f"content {i}"} for i in range(3000)]
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert result.created == 3000
    assert writers[0].direct is (not db.is_sqlite)


def test_a_content_repeated_after_many_spills_leaves_the_direct_path(
    db, owner, project, tiny_spills, writers
):
    rows = [{"text": f"content {i}"} for i in range(3000)] + [{"text": "content 5"}]
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert (result.created, result.duplicates) == (3000, 1)
    assert writers[0].direct is False
    assert count_tasks(db, project) == 3000
