"""An external id repeated inside one file is an invalid row, named with both places; an
external id already in the project from an earlier import is a duplicate (re-importing a
file adds nothing). Real databases, both import paths (staged on SQLite, one transaction on
PostgreSQL)."""

from __future__ import annotations

import io

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.tasks.importer import BATCH_SIZE, run_import
from labelhouse.tasks.models import Prediction
from labelhouse.tasks.seen_ids import SeenIds
from tests.factories import make_project, text_rows
from tests.helpers_data import count_rows, count_tasks, encode, imports_of, jsonl_bytes, tasks_of


@pytest.fixture
def project(db, owner):
    return make_project(db, owner)


def service_import(db, owner, project_id, data: bytes, filename: str = "t.jsonl", **kwargs):
    return run_import(db, owner.actor, project_id, io.BytesIO(data), filename=filename, **kwargs)


ROWS = [
    {"external_id": "a1", "text": "first"},
    {"external_id": "b", "text": "other"},
    {"external_id": "a1", "text": "second"},
]


@pytest.mark.parametrize(
    ("fmt", "where", "first"),
    [
        ("jsonl", "line 3", "on line 1"),
        ("json", "item 3", "in item 1"),
        ("csv", "line 4", "on line 2"),  # the header is line 1
        ("parquet", "row 3", "in row 1"),
    ],
)
def test_a_repeated_external_id_refuses_the_import_naming_both_places(
    db, owner, project, fmt, where, first
):
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, encode(ROWS, fmt), f"t.{fmt}")
    [problem] = exc.value.details
    assert problem.field == where
    assert problem.problem == f"external_id 'a1' already appears {first} of this file"
    assert str(exc.value).startswith(f"Nothing was imported: t.{fmt}, {where}: external_id 'a1'")
    assert count_tasks(db, project) == 0
    assert imports_of(db, project) == []


def test_skip_invalid_rejects_the_repeats_with_their_reason_and_keeps_the_first(db, owner, project):
    rejected = []
    rows = [*ROWS, {"external_id": "a1", "text": "third"}, {"external_id": "c", "text": "c"}]
    result = service_import(
        db,
        owner,
        project,
        jsonl_bytes(rows),
        skip_invalid=True,
        on_rejected=lambda where, row, reasons: rejected.append((where, row, reasons)),
    )
    assert (result.rows, result.created, result.duplicates, result.rejected) == (5, 3, 0, 2)
    assert rejected == [
        ("line 3", rows[2], ["external_id 'a1' already appears on line 1 of this file"]),
        ("line 4", rows[3], ["external_id 'a1' already appears on line 1 of this file"]),
    ]
    assert [s["where"] for s in result.rejected_sample] == ["line 3", "line 4"]
    assert [(t.external_id, t.data["text"]) for t in tasks_of(db, project)] == [
        ("a1", "first"),
        ("b", "other"),
        ("c", "c"),
    ]


def test_ids_already_in_the_project_stay_duplicates_and_reimport_is_idempotent(db, owner, project):
    data = jsonl_bytes(text_rows(3))
    assert service_import(db, owner, project, data).created == 3
    again = service_import(db, owner, project, data)
    assert (again.created, again.duplicates, again.rejected) == (0, 3, 0)
    assert [i.duplicates for i in imports_of(db, project)] == [0, 3]


def test_a_repeat_of_an_id_that_is_also_in_the_project_is_still_a_repeat(db, owner, project):
    service_import(db, owner, project, jsonl_bytes([{"external_id": "a1", "text": "old"}]))
    result = service_import(db, owner, project, jsonl_bytes(ROWS), skip_invalid=True)
    assert (result.created, result.duplicates, result.rejected) == (1, 1, 1)
    assert result.rejected_sample == [
        {
            "where": "line 3",
            "problems": ["external_id 'a1' already appears on line 1 of this file"],
        }
    ]
    assert sorted(t.data["text"] for t in tasks_of(db, project)) == ["old", "other"]


def test_a_repeat_batches_later_still_stores_nothing(db, owner, project):
    rows = [*text_rows(BATCH_SIZE + 2), {"external_id": "t1", "text": "again"}]
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, jsonl_bytes(rows))
    [problem] = exc.value.details
    assert problem.field == f"line {BATCH_SIZE + 3}"
    assert problem.problem == "external_id 't1' already appears on line 2 of this file"
    assert count_tasks(db, project) == 0
    assert imports_of(db, project) == []


def test_an_integer_id_and_the_same_digits_as_text_are_one_id(db, owner, project):
    rows = [{"external_id": 7, "text": "int"}, {"external_id": "7", "text": "str"}]
    result = service_import(db, owner, project, jsonl_bytes(rows), skip_invalid=True)
    assert (result.created, result.rejected) == (1, 1)
    assert result.rejected_sample[0]["problems"] == [
        "external_id '7' already appears on line 1 of this file"
    ]


def test_a_repeated_structured_row_does_not_bring_its_predictions(db, owner, project):
    def row(text, label):
        return {
            "data": {"text": text},
            "external_id": "s",
            "predictions": [{"value": {"label": label}}],
        }

    result = service_import(
        db, owner, project, jsonl_bytes([row("a", "pos"), row("b", "neg")]), skip_invalid=True
    )
    assert (result.created, result.rejected) == (1, 1)
    assert count_rows(db, Prediction) == 1


def test_a_bad_row_that_repeats_an_id_reports_its_own_problems(db, owner, project):
    """Only rows that would be imported claim their id: a rejected row never was a task."""
    rows = [{"external_id": "a1", "body": "no text"}, {"external_id": "a1", "text": "fine"}]
    result = service_import(db, owner, project, jsonl_bytes(rows), skip_invalid=True)
    assert (result.created, result.rejected) == (1, 1)
    assert "missing key 'text'" in result.rejected_sample[0]["problems"][0]
    assert [t.data for t in tasks_of(db, project)] == [{"text": "fine"}]


def test_rows_without_ids_repeating_the_same_data_are_duplicates_as_before(db, owner, project):
    """Without an external id a task is known by its data: the same data twice is the same
    task, counted as a duplicate (not an error)."""
    rows = [{"text": "same"}, {"text": "same"}]
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert (result.created, result.duplicates, result.rejected) == (1, 1, 0)


# -- the set of seen ids ------------------------------------------------------------------------


def test_seen_ids_gives_the_first_place_of_each_id_across_growth():
    seen = SeenIds()
    n = 200_000  # several runs of the latest ids written out, and merged
    assert all(seen.add(f"id-{i}", f"x:id-{i}", i + 1) is None for i in range(n))
    again = [seen.add(f"id-{i}", f"x:id-{i}", n + 10) for i in (0, 1, 77_777, n - 1)]
    assert again == [1, 2, 77_778, n]
    assert len(seen) == n
    assert seen.add("id-new", "x:id-new", 5) is None


def test_seen_ids_keeps_places_past_four_billion():
    seen = SeenIds()
    seen.add("far", "x:far", 5_000_000_000)
    assert seen.add("far", "x:far", 5_000_000_001) == 5_000_000_000


def test_seen_ids_tells_apart_ids_whose_64_bit_hashes_collide(monkeypatch):
    """Forced collisions (every 'n…' id hashes alike but for its tag): each id keeps its own
    first place, before and after the latest ids are written out to disk."""
    from labelhouse.tasks import seen_ids

    real_hash = hash
    monkeypatch.setattr(
        seen_ids, "hash", lambda s: 7 if s.startswith("n") else real_hash(s), raising=False
    )
    seen = SeenIds(spill_at=8)
    names = [f"n{i}" for i in range(20)]
    fillers = [f"f{i}" for i in range(30)]  # several merges
    ids = [x for pair in zip(names, fillers, strict=False) for x in pair] + fillers[20:]
    assert [seen.add(x, f"x:{x}", i + 1) for i, x in enumerate(ids)] == [None] * len(ids)
    assert seen.runs > 0  # ids on disk are looked up too
    assert [seen.add(x, f"x:{x}", 999) for x in ids] == list(range(1, len(ids) + 1))
