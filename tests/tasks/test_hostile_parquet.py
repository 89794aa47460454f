"""Hostile task files: Parquet decompression bombs, and the JSON array / CSV inputs that
expand in memory. A few hundred bytes of Parquet once took the server from 290 MB to 3 GB
before it answered 422; now the page headers are read first and every batch is sized to a
budget (tasks/parquet_budget.py). Real files, the real app and database; the memory figures
come from a separate process's own high-water mark (bench/bench_hostile_imports.py has the
full table)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelhouse.accounts import service as accounts
from labelhouse.tasks import parquet_budget, readers
from labelhouse.tasks.parquet_pages import _count_zeros
from labelhouse.tasks.readers import RowError, read_csv, read_json_array, read_parquet
from tests.factories import make_org, make_project

ZSTD = {"compression": "zstd", "compression_level": 22}
MB = 1024 * 1024


def repeated(rows: int, size: int) -> pa.DictionaryArray:
    """``rows`` references to one ``size``-byte string, built without rows x size bytes."""
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * size]))


def bomb(
    path: Path, *, size: int, rows: int = 4096, columns: int = 1, schema: bool = False
) -> Path:
    """The reported bomb: one long string repeated in dictionary-encoded columns. Without
    the stored Arrow schema pyarrow reads the column as plain strings and expands it; with
    it, as a dictionary (the expansion would then happen in Python)."""
    table = pa.table(
        {f"c{i}": repeated(rows, size) for i in range(columns)} | {"text": ["t"] * rows}
    )
    pq.write_table(table, path, store_schema=schema, **ZSTD)
    return path


def read(path: Path) -> list[tuple[str, Any]]:
    with path.open("rb") as f:
        return list(read_parquet(f))


def plan(path: Path) -> list[parquet_budget.RowGroupPlan]:
    with path.open("rb") as f:
        return parquet_budget.plan_reading(pq.ParquetFile(f), f, path.stat().st_size)


def fatal(result: list[tuple[str, Any]]) -> tuple[str, str]:
    where, error = result[-1]
    assert isinstance(error, RowError) and error.fatal, result[-1]
    return where, error.problem


# -- the import as the server runs it, in its own process -------------------------------------

IMPORT = textwrap.dedent(
    """
    import json, sys, time
    from fastapi.testclient import TestClient
    from labelhouse.config import Settings
    from labelhouse.web.app import create_app

    def peak_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1])

    url, data_dir, token, project, path = sys.argv[1:]
    app = create_app(Settings(data_dir=data_dir, database_url=url, password_hash_profile="cheapest"))
    with TestClient(app) as client, open(path, "rb") as f:
        before = peak_kb()
        started = time.perf_counter()
        r = client.post(
            f"/api/projects/{project}/import",
            files={"file": ("tasks.parquet", f)},
            headers={"Authorization": f"Bearer {token}"},
        )
        print(json.dumps({
            "status": r.status_code, "body": r.text, "seconds": time.perf_counter() - started,
            "before_mb": before / 1024, "peak_mb": peak_kb() / 1024,
        }))
    """
)


def import_in_a_process(db, db_url, tmp_path: Path, path: Path) -> dict[str, Any]:
    owner = make_org(db)
    pid = make_project(db, owner)
    with db.session() as s:
        _, token = accounts.create_api_token(s, owner.actor, name="bomb")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORT,
            db_url,
            str(tmp_path / "server"),
            token,
            str(pid),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(readers.__file__).parents[2])},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (1, "the file decodes to more than 128.0 MB, over 1,000 times its"),
        (40, "one row may decode to"),
    ],
    ids=["1-MB-string-x4096", "40-columns-of-it"],
)
def test_a_parquet_bomb_is_refused_with_bounded_memory(db, db_url, tmp_path, columns, message):
    """Rows of a 1 MB string repeated 4,096 times (4 GB from a few hundred bytes): refused
    with a 422 naming the row group and the column, the process staying under 400 MB (it
    went to 3 GB); 40 such columns are refused before a page is decompressed."""
    path = bomb(tmp_path / "bomb.parquet", size=1_000_000, columns=columns)
    assert path.stat().st_size < 16 * 1024
    result = import_in_a_process(db, db_url, tmp_path, path)
    assert result["status"] == 422, result
    body = result["body"]
    assert "row group 1 of 1" in body and "'c0'" in body and message in body, body
    assert "Traceback" not in body
    assert result["peak_mb"] < 400, result
    assert result["peak_mb"] - result["before_mb"] < 300, result


# -- the reading plan ------------------------------------------------------------------------


def ordinary_table(n: int) -> pa.Table:
    return pa.table(
        {
            "external_id": [f"t{i}" for i in range(n)],
            "text": [
                f"Review {i}: the product was fine, shipping took {i % 9} days." for i in range(n)
            ],
            "tags": [[f"w{j}" for j in range(i % 4)] for i in range(n)],
            "score": [i / 7 for i in range(n)],
        }
    )


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_an_ordinary_file_is_read_128_rows_at_a_time_and_whole(tmp_path, version):
    table = ordinary_table(30_000)
    path = tmp_path / "ordinary.parquet"
    pq.write_table(table, path, row_group_size=7_000, data_page_version=version)
    assert [(p.index, p.batch_rows) for p in plan(path)] == [(i, 128) for i in range(5)]
    result = read(path)
    assert [where for where, _ in result[:2]] == ["row 1", "row 2"]
    assert [row for _, row in result] == table.to_pylist()


def test_long_but_valid_rows_are_read_in_smaller_batches(tmp_path):
    """Forty distinct 400 KB texts: legitimate, and read a few rows at a time."""
    texts = [chr(65 + i % 26) * 400_000 + str(i) for i in range(40)]
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"text": texts}), path)
    [group] = plan(path)
    assert 1 <= group.batch_rows < 128
    assert [row["text"] for _, row in read(path)] == texts


def test_the_repeated_string_is_read_a_few_rows_at_a_time(tmp_path):
    [group] = plan(bomb(tmp_path / "b.parquet", size=1_000_000))
    assert group.batch_rows == 4  # 4 rows of 1 MB, twice over while pyarrow builds them


def test_a_dictionary_column_is_measured_decoded(tmp_path):
    """With the Arrow schema stored, pyarrow hands back a dictionary column that is small in
    Arrow and 4 GB once turned into Python: it is decoded (within the plan) and counted."""
    result = read(bomb(tmp_path / "b.parquet", size=1_000_000, schema=True))
    where, problem = fatal(result)
    assert where == "row group 1 of 1"
    assert "decodes to more than 128.0 MB" in problem and "column 'c0'" in problem
    assert len(result) <= 300  # stopped at the limit, not after 4,096 rows


def test_a_row_too_large_to_be_a_task_is_not_turned_into_python(tmp_path):
    result = read(bomb(tmp_path / "b.parquet", size=16_000_000, rows=8))
    assert [where for where, _ in result] == [f"row {i}" for i in range(1, 9)]
    for _, error in result:
        assert isinstance(error, RowError) and not error.fatal
        assert "decodes to 15.3 MB (column 'c0': 15.3 MB); a task is at most 1 MB" in error.problem


@pytest.mark.parametrize(
    ("make", "column", "problem"),
    [
        (
            lambda: pa.table({"text": ["t"], "l": pa.array([[0] * 5_000_000])}),
            "l.list.element",
            "one row may decode to",
        ),
        (
            lambda: pa.table({"text": ["t"], "c": ["y" * 100_000_000]}),
            "c",
            "a page decompresses to 95.4 MB",
        ),
    ],
    ids=["list-of-5M-zeros", "100-MB-plain-value"],
)
def test_other_bombs_are_refused_before_reading(tmp_path, make, column, problem):
    path = tmp_path / "bomb.parquet"
    pq.write_table(make(), path, use_dictionary=False, **ZSTD)
    assert path.stat().st_size < 16 * 1024
    [(where, error)] = read(path)
    assert where == "row group 1 of 1"
    assert isinstance(error, RowError) and error.fatal
    assert f"column '{column}'" in error.problem and problem in error.problem


def test_lists_of_a_repeated_long_string_are_refused(tmp_path):
    values = repeated(6400, 1_000_000)
    lists = pa.ListArray.from_arrays(pa.array(range(0, 6401, 100), pa.int32()), values)
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"text": ["t"] * 64, "l": lists}), path, store_schema=False, **ZSTD)
    [(where, error)] = read(path)
    assert where == "row group 1 of 1" and error.fatal
    assert "column 'l.list.element'" in error.problem


def test_a_damaged_page_header_is_a_clear_error(tmp_path):
    path = tmp_path / "ordinary.parquet"
    pq.write_table(ordinary_table(1_000), path)
    column = pq.ParquetFile(path).metadata.row_group(0).column(1)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    [(where, error)] = read(path)
    assert where == "row group 1 of 1"
    assert isinstance(error, RowError) and error.fatal and "column 'text'" in error.problem


@pytest.mark.parametrize("width", [1, 2, 3])
def test_repetition_levels_are_counted_like_the_format_says(width):
    """Zeros in an RLE / bit-packed hybrid run: a run of 5 zeros, a run of 3 ones, then 16
    bit-packed values (two groups of 8)."""
    values = [0] * 5 + [1] * 3 + [i % (1 << width) for i in range(16)]
    bits = "".join(format(v, f"0{width}b")[::-1] for v in values[8:])
    packed = int(bits[::-1], 2).to_bytes(2 * width, "little")
    value_bytes = (width + 7) // 8
    data = (
        bytes([5 << 1])
        + (0).to_bytes(value_bytes, "little")
        + bytes([3 << 1])
        + (1).to_bytes(value_bytes, "little")
        + bytes([(2 << 1) | 1])
        + packed
    )
    for count in (4, 8, 24, 30):
        expected = values[:count].count(0)
        assert _count_zeros(data, 0, len(data), width, count) == expected, count


# -- the other readers -----------------------------------------------------------------------


def test_a_json_array_item_larger_than_a_line_is_fatal_without_being_built(monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 200_000)
    small = b'{"text": "a"}'
    huge = b'{"text": "b", "n": [' + b",".join(b"%d" % i for i in range(100_000)) + b"]}"
    result = list(read_json_array(io.BytesIO(b"[" + small + b"," + huge + b"," + small + b"]")))
    assert result[0] == ("item 1", {"text": "a"})
    where, error = result[1]
    assert where == "item 2" and error.fatal and "larger than 200000 bytes" in error.problem
    assert len(result) == 2


def test_many_small_json_items_are_not_counted_together(monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 200_000)
    items = b",".join(b'{"text": "%d"}' % i for i in range(50_000))  # ~1 MB in all
    result = list(read_json_array(io.BytesIO(b"[" + items + b"]")))
    assert len(result) == 50_000 and not any(isinstance(r, RowError) for _, r in result)


def test_a_csv_record_of_quoted_line_breaks_is_bounded_like_a_line(monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1_000)
    record = b'"ab\n",' * 400 + b'"x"\n'  # 2,400 characters over 401 short lines
    result = list(read_csv(io.BytesIO(b"text\nfirst\n" + record + b"later\n")))
    assert result[0] == ("line 2", {"text": "first"})
    where, error = result[1]
    assert where == "line 3" and error.fatal
    assert "record (with quoted line breaks) is longer than 1000 characters" in error.problem
    assert len(result) == 2


def test_many_csv_records_are_not_counted_together(monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1_000)
    body = b"".join(b'"line\n%d"\n' % i for i in range(2_000))
    result = list(read_csv(io.BytesIO(b"text\n" + body)))
    assert len(result) == 2_000 and result[-1][1] == {"text": "line\n1999"}
