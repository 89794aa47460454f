"""Pure tests of the streaming task-file readers (no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import io
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelhouse.tasks.readers import (
    FORMATS,
    RowError,
    detect_format,
    read_csv,
    read_json_array,
    read_jsonl,
    read_parquet,
    read_rows,
)


def rows(reader: Any, data: bytes) -> list[tuple[str, Any]]:
    return list(reader(io.BytesIO(data)))


def errors(result: list[tuple[str, Any]]) -> list[tuple[str, RowError]]:
    return [(w, r) for w, r in result if isinstance(r, RowError)]


def parquet_bytes(table: pa.Table, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, **kwargs)
    return out.getvalue()


# -- JSONL ------------------------------------------------------------------------------------


def test_jsonl_reads_objects_with_their_line_numbers():
    data = b'{"text": "a"}\n{"text": "b", "n": 2}\n'
    assert rows(read_jsonl, data) == [("line 1", {"text": "a"}), ("line 2", {"text": "b", "n": 2})]


def test_jsonl_skips_blank_lines_but_keeps_counting_them():
    data = b'\n{"text": "a"}\n\n   \n\t\r\n{"text": "b"}\n\n'
    assert rows(read_jsonl, data) == [("line 2", {"text": "a"}), ("line 6", {"text": "b"})]


def test_jsonl_handles_crlf_and_a_missing_final_newline():
    data = b'{"text": "a"}\r\n{"text": "b"}'
    assert rows(read_jsonl, data) == [("line 1", {"text": "a"}), ("line 2", {"text": "b"})]


def test_jsonl_malformed_line_is_a_row_error_naming_the_line_and_reading_goes_on():
    data = b'{"text": "a"}\n{"text": oops}\n{"text": "c"}\n'
    result = rows(read_jsonl, data)
    assert [w for w, _ in result] == ["line 1", "line 2", "line 3"]
    where, err = errors(result)[0]
    assert where == "line 2"
    assert "not valid JSON" in err.problem
    assert not err.fatal  # one bad line does not stop the file
    assert result[2] == ("line 3", {"text": "c"})


def test_jsonl_truncated_last_line_is_an_error():
    result = rows(read_jsonl, b'{"text": "a"}\n{"text": "b"')
    assert errors(result) and errors(result)[0][0] == "line 2"


def test_jsonl_invalid_utf8_is_a_row_error():
    result = rows(read_jsonl, b'{"text": "a"}\n{"text": "\xff"}\n')
    assert [w for w, _ in errors(result)] == ["line 2"]


def test_jsonl_passes_non_objects_through_for_the_importer_to_reject():
    assert rows(read_jsonl, b'[1, 2]\n"x"\n42\nnull\n') == [
        ("line 1", [1, 2]),
        ("line 2", "x"),
        ("line 3", 42),
        ("line 4", None),
    ]


def test_jsonl_reader_is_lazy():
    class Exploding(io.BytesIO):
        def __init__(self) -> None:
            super().__init__(b'{"a": 1}\n' + b"{bad\n" * 3)
            self.lines = 0

        def readline(self, limit: int | None = -1) -> bytes:
            self.lines += 1
            return super().readline(limit)

        def __next__(self) -> bytes:
            raise AssertionError("lines are read with a length limit (readline)")

    stream = Exploding()
    gen = read_jsonl(stream)
    assert inspect.isgenerator(gen)
    assert next(gen) == ("line 1", {"a": 1})
    assert stream.lines == 1


def test_jsonl_over_long_line_is_rejected(monkeypatch):
    import labelhouse.tasks.readers as readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 20)
    result = rows(read_jsonl, b'{"text": "short"}\n{"text": "' + b"x" * 50 + b'"}\n')
    assert result[0] == ("line 1", {"text": "short"})
    assert result[1][0] == "line 2"
    assert "longer than 20 bytes" in result[1][1].problem


# -- JSON array -------------------------------------------------------------------------------


def test_json_array_yields_items_numbered_from_one():
    data = b'[{"text": "a"}, {"text": "b", "score": 0.5, "tags": [1, 2]}]'
    assert rows(read_json_array, data) == [
        ("item 1", {"text": "a"}),
        ("item 2", {"text": "b", "score": 0.5, "tags": [1, 2]}),
    ]


def test_json_array_numbers_are_plain_floats_not_decimals():
    [(_, row)] = rows(read_json_array, b'[{"x": 1.25, "n": 3}]')
    assert type(row["x"]) is float and row["x"] == 1.25
    assert type(row["n"]) is int


def test_json_array_is_streamed_item_by_item():
    class Counting(io.BytesIO):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size if size is not None and size >= 0 else 8192)
            self.read_bytes += len(chunk)
            return chunk

    body = b"[" + b",".join(b'{"text": "%d"}' % i for i in range(200_000)) + b"]"
    stream = Counting(body)
    gen = read_json_array(stream)
    assert next(gen) == ("item 1", {"text": "0"})
    assert stream.read_bytes < len(body) // 4  # did not slurp the whole file


def test_json_empty_array_yields_nothing():
    assert rows(read_json_array, b"  [ ]  ") == []


def test_json_non_array_file_is_a_fatal_error():
    result = rows(read_json_array, b'{"text": "a", "other": 1}')
    assert len(result) == 1
    where, err = result[0]
    assert where == "file"
    assert isinstance(err, RowError) and err.fatal
    assert "JSON array" in err.problem


def test_json_truncated_array_keeps_good_items_then_a_fatal_error_naming_the_item():
    result = rows(read_json_array, b'[{"text": "a"}, {"text": "b"}, {"text": "c"')
    assert result[:2] == [("item 1", {"text": "a"}), ("item 2", {"text": "b"})]
    where, err = result[2]
    assert where == "item 3"
    assert isinstance(err, RowError) and err.fatal
    assert "not valid JSON" in err.problem


@pytest.mark.parametrize("data", [b"", b"hello", b'[{"text": "a"} {"text": "b"}]'])
def test_json_garbage_is_fatal(data):
    errs = errors(rows(read_json_array, data))
    assert errs and errs[0][1].fatal


def test_json_trailing_garbage_after_the_array_is_fatal():
    result = rows(read_json_array, b'[{"text": "a"}] [2]')
    assert result[0] == ("item 1", {"text": "a"})
    assert isinstance(result[1][1], RowError) and result[1][1].fatal


def test_json_array_of_scalars_is_passed_through_for_the_importer_to_reject():
    assert rows(read_json_array, b'[1, "x", null]') == [
        ("item 1", 1),
        ("item 2", "x"),
        ("item 3", None),
    ]


# -- CSV --------------------------------------------------------------------------------------


def test_csv_header_names_the_keys_and_line_numbers_count_the_header():
    data = b"text,lang\nhello,en\nbonjour,fr\n"
    assert rows(read_csv, data) == [
        ("line 2", {"text": "hello", "lang": "en"}),
        ("line 3", {"text": "bonjour", "lang": "fr"}),
    ]


def test_csv_cells_stay_strings_unless_the_column_is_json():
    data = b'text,n,meta:json,flag:json\nhi,42,"{""k"": [1, 2]}",true\n'
    [(_, row)] = rows(read_csv, data)
    assert row == {"text": "hi", "n": "42", "meta": {"k": [1, 2]}, "flag": True}


def test_csv_empty_json_cell_is_null():
    [(_, row)] = rows(read_csv, b"text,meta:json\nhi,\n")
    assert row == {"text": "hi", "meta": None}


def test_csv_bad_json_cell_is_a_row_error_naming_the_column():
    result = rows(read_csv, b"text,meta:json\nok,1\nbad,{nope\nok2,2\n")
    assert [w for w, _ in result] == ["line 2", "line 3", "line 4"]
    where, err = errors(result)[0]
    assert where == "line 3"
    assert "meta:json" in err.problem and not err.fatal


def test_csv_wrong_cell_count_names_the_line():
    result = rows(read_csv, b"text,lang\nhello,en\njust-one\nthree,cells,here\nok,fr\n")
    errs = errors(result)
    assert [w for w, _ in errs] == ["line 3", "line 4"]
    assert "has 1 cells but the header has 2" in errs[0][1].problem
    assert "has 3 cells" in errs[1][1].problem
    assert result[-1] == ("line 5", {"text": "ok", "lang": "fr"})


def test_csv_blank_lines_are_skipped():
    assert rows(read_csv, b"text\na\n\n\nb\n") == [
        ("line 2", {"text": "a"}),
        ("line 5", {"text": "b"}),
    ]


def test_csv_quoted_newlines_report_the_line_the_row_ends_on():
    data = b'text,n\n"two\nlines",1\nnext,2\n'
    assert rows(read_csv, data) == [
        ("line 3", {"text": "two\nlines", "n": "1"}),
        ("line 4", {"text": "next", "n": "2"}),
    ]


def test_csv_utf8_bom_is_not_part_of_the_first_key():
    data = "\ufefftext,lang\nhéllo,fr\n".encode()
    assert rows(read_csv, data) == [("line 2", {"text": "héllo", "lang": "fr"})]


def test_csv_crlf_line_endings():
    assert rows(read_csv, b"text,n\r\na,1\r\nb,2\r\n") == [
        ("line 2", {"text": "a", "n": "1"}),
        ("line 3", {"text": "b", "n": "2"}),
    ]


def test_csv_header_names_are_stripped():
    assert rows(read_csv, b" text , meta:json \na,[1]\n") == [
        ("line 2", {"text": "a", "meta": [1]})
    ]


def test_csv_invalid_utf8_in_a_row_names_that_line():
    result = rows(read_csv, b"text,n\nok,1\nbad\xff,2\nfine \xc3\xa9,3\n")
    assert result[0] == ("line 2", {"text": "ok", "n": "1"})
    where, err = result[1]
    assert where == "line 3"
    assert isinstance(err, RowError) and "UTF-8" in err.problem
    assert result[2] == ("line 4", {"text": "fine é", "n": "3"})


def test_csv_invalid_utf8_far_into_a_large_file_names_the_right_line():
    body = b"text,n\n" + b"some text,1\n" * 5000 + b"latin-1 caf\xe9,2\n"
    result = rows(read_csv, body)
    errs = errors(result)
    assert [w for w, _ in errs] == ["line 5002"]
    assert len(result) == 5001


def test_csv_invalid_utf8_in_the_header_is_fatal():
    [(where, err)] = rows(read_csv, b"te\xffxt,n\nok,1\n")
    assert where == "line 1" and err.fatal and "UTF-8" in err.problem


@pytest.mark.parametrize("header", [b"text,text", b"text,", b"a,a:json"])
def test_csv_empty_or_repeated_column_names_are_fatal(header):
    [(where, err)] = rows(read_csv, header + b"\n1,2\n")
    assert where == "line 1" and err.fatal
    assert "empty or repeated" in err.problem


def test_csv_empty_file_and_header_only_yield_nothing():
    assert rows(read_csv, b"") == []
    assert rows(read_csv, b"text,lang\n") == []


# -- Parquet ----------------------------------------------------------------------------------


def test_parquet_rows_with_nested_columns_survive(tmp_path):
    table = pa.table(
        {
            "text": ["a", "b", "c"],
            "tags": [[1, 2], [], None],
            "meta": [{"k": "x", "v": 1}, {"k": "y", "v": 2}, None],
            "score": [0.5, None, 1.0],
        }
    )
    path = tmp_path / "tasks.parquet"
    pq.write_table(table, path)
    with path.open("rb") as f:
        result = list(read_parquet(f))
    assert result == [
        ("row 1", {"text": "a", "tags": [1, 2], "meta": {"k": "x", "v": 1}, "score": 0.5}),
        ("row 2", {"text": "b", "tags": [], "meta": {"k": "y", "v": 2}, "score": None}),
        ("row 3", {"text": "c", "tags": None, "meta": None, "score": 1.0}),
    ]


def test_parquet_rows_are_numbered_across_row_groups():
    table = pa.table({"text": [f"t{i}" for i in range(10_000)]})
    result = rows(read_parquet, parquet_bytes(table, row_group_size=3000))
    assert len(result) == 10_000
    assert result[0] == ("row 1", {"text": "t0"})
    assert result[-1] == ("row 10000", {"text": "t9999"})


def test_parquet_timestamps_become_json_strings():
    table = pa.table(
        {
            "text": ["a"],
            "when": [dt.datetime(2024, 5, 6, 7, 8, 9)],
            "day": [dt.date(2024, 5, 6)],
            "x": [float("nan")],
        }
    )
    [(where, row)] = rows(read_parquet, parquet_bytes(table))
    assert where == "row 1"
    assert row == {"text": "a", "when": "2024-05-06T07:08:09", "day": "2024-05-06", "x": None}


@pytest.mark.parametrize(
    "column",
    [pa.array([b"\x00\x01"]), pa.array([decimal.Decimal("1.5")])],
    ids=["bytes", "decimal"],
)
def test_parquet_values_json_cannot_hold_are_row_errors(column):
    table = pa.table({"text": ["a"], "odd": column})
    [(where, err)] = rows(read_parquet, parquet_bytes(table))
    assert where == "row 1"
    assert isinstance(err, RowError) and "JSON cannot represent" in err.problem


def test_parquet_garbage_is_fatal():
    [(where, err)] = rows(read_parquet, b"definitely not parquet")
    assert where == "file"
    assert isinstance(err, RowError) and err.fatal and "Parquet" in err.problem


# -- format detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("tasks.jsonl", "jsonl"),
        ("tasks.ndjson", "jsonl"),
        ("TASKS.JSONL", "jsonl"),
        ("tasks.json", "json"),
        ("dir/tasks.csv", "csv"),
        ("tasks.parquet", "parquet"),
        ("tasks.pq", "parquet"),
    ],
)
def test_detect_format_from_the_extension(name, fmt):
    assert detect_format(name) == fmt


def test_explicit_format_wins_over_the_name():
    assert detect_format("tasks.csv", "jsonl") == "jsonl"
    assert detect_format(None, "parquet") == "parquet"


@pytest.mark.parametrize("name", ["tasks.txt", "tasks", "", None, "tasks.json.gz"])
def test_unknown_extension_is_an_error_with_advice(name):
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format(name)


def test_unknown_explicit_format_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown format 'xml'") as exc:
        detect_format("tasks.jsonl", "xml")
    assert all(f in str(exc.value) for f in FORMATS)


def test_read_rows_dispatches_by_format():
    assert list(read_rows(io.BytesIO(b'{"a": 1}\n'), "jsonl")) == [("line 1", {"a": 1})]
    assert list(read_rows(io.BytesIO(b"a\n1\n"), "csv")) == [("line 2", {"a": "1"})]


def test_json_nesting_past_the_limit_is_fatal_and_cheap():
    """100,000 nested brackets (200 KB) made ijson.items build a path string per level and
    allocate gigabytes until the server was killed; now it is a row error."""
    import resource

    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    depth = 100_000
    result = rows(read_json_array, b"[" * depth + b"]" * depth)
    assert len(result) == 1
    where, error = result[0]
    assert where == "item 1"
    assert isinstance(error, RowError) and error.fatal
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in error.problem
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50


def test_json_nesting_up_to_the_limit_is_read():
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    inner = b"[" * (MAX_JSON_DEPTH - 1) + b"1" + b"]" * (MAX_JSON_DEPTH - 1)
    result = rows(read_json_array, b'[{"text": "a", "deep": ' + inner + b"}]")
    assert len(result) == 1
    value = result[0][1]["deep"]
    for _ in range(MAX_JSON_DEPTH - 2):
        value = value[0]
    assert value == [1]


def test_json_array_items_keep_every_value_type():
    doc = b'[{"s": "x", "i": 3, "f": 1.5, "t": true, "n": null, "l": [1, {"a": []}], "o": {}}, 7]'
    assert rows(read_json_array, doc) == [
        (
            "item 1",
            {"s": "x", "i": 3, "f": 1.5, "t": True, "n": None, "l": [1, {"a": []}], "o": {}},
        ),
        ("item 2", 7),
    ]


def test_jsonl_line_without_end_is_refused_without_reading_it_whole(monkeypatch):
    import labelhouse.tasks.readers as readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 100)

    class Counting(io.BytesIO):
        largest = 0

        def readline(self, limit: int | None = -1) -> bytes:
            line = super().readline(limit)
            Counting.largest = max(Counting.largest, len(line))
            return line

    data = b'{"text": "' + b"x" * 10_000 + b'"}\n{"text": "after"}\n'
    result = list(read_jsonl(Counting(data)))
    assert result[0][0] == "line 1" and "longer than 100 bytes" in result[0][1].problem
    assert result[1] == ("line 2", {"text": "after"})
    assert Counting.largest <= 1 << 20  # read in bounded pieces, never the whole line


def test_csv_line_longer_than_the_limit_is_fatal(monkeypatch):
    import labelhouse.tasks.readers as readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 100)
    result = rows(read_csv, b"text\nshort\n" + b"y" * 500 + b"\nlater\n")
    assert result[0] == ("line 2", {"text": "short"})
    where, error = result[1]
    assert where == "line 3"
    assert isinstance(error, RowError) and error.fatal
    assert "longer than 100 characters" in error.problem
    assert len(result) == 2


def test_csv_cells_may_hold_a_task_sized_text():
    big = "z" * (512 * 1024)  # over the csv module's default 128 KB field limit
    result = rows(read_csv, b"text\n" + big.encode() + b"\n")
    assert result == [("line 2", {"text": big})]


# -- one nesting limit for every format (issue 14 item 8) ---------------------------------------


def nested(levels: int) -> Any:
    """A value of ``levels`` nested objects and arrays (alternating), innermost holding 1."""
    value: Any = 1
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def test_nested_builds_what_it_says():
    assert depth_of({"text": "a", "deep": nested(63)}) == 64


def test_jsonl_nesting_past_the_limit_is_a_row_error_naming_the_line():
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    lines = [{"text": "a"}, {"text": "b", "deep": nested(MAX_JSON_DEPTH)}, {"text": "c"}]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    result = rows(read_jsonl, data)
    assert [w for w, _ in result] == ["line 1", "line 2", "line 3"]
    [(where, error)] = errors(result)
    assert where == "line 2" and not error.fatal
    assert error.problem == f"nested deeper than {MAX_JSON_DEPTH} levels"


def test_jsonl_nesting_up_to_the_limit_is_read():
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    row = {"text": "a", "deep": nested(MAX_JSON_DEPTH - 1)}
    assert rows(read_jsonl, orjson.dumps(row)) == [("line 1", row)]


def test_jsonl_brackets_inside_strings_are_not_nesting():
    row = {"text": "[{" * 500, "list": [[["x"]]]}
    assert rows(read_jsonl, orjson.dumps(row)) == [("line 1", row)]


def test_csv_json_cells_count_towards_the_nesting_limit():
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    def line(value: Any) -> bytes:
        cell = orjson.dumps(value).decode().replace('"', '""')
        return b'a,"' + cell.encode() + b'"\n'

    data = b"text,deep:json\n" + line(nested(MAX_JSON_DEPTH - 1)) + line(nested(MAX_JSON_DEPTH))
    result = rows(read_csv, data)
    assert result[0] == ("line 2", {"text": "a", "deep": nested(MAX_JSON_DEPTH - 1)})
    [(where, error)] = errors(result)
    assert where == "line 3" and not error.fatal
    assert error.problem == (
        f"column 'deep:json' makes the task nested deeper than {MAX_JSON_DEPTH} levels"
    )


def test_parquet_nested_types_count_towards_the_nesting_limit():
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    def deep_struct(levels: int) -> tuple[Any, Any]:
        value: Any = 1
        arrow: Any = pa.int64()
        for _ in range(levels):
            value, arrow = {"a": value}, pa.struct([("a", arrow)])
        return value, arrow

    value, arrow = deep_struct(MAX_JSON_DEPTH)  # the row object makes it one level more
    table = pa.table({"text": ["a", "b"], "deep": pa.array([value, None], type=arrow)})
    result = rows(read_parquet, parquet_bytes(table))
    [(where, error)] = errors(result)
    assert where == "row 1" and not error.fatal
    assert error.problem == f"nested deeper than {MAX_JSON_DEPTH} levels"
    assert result[1] == ("row 2", {"text": "b", "deep": None})

    value, arrow = deep_struct(MAX_JSON_DEPTH - 1)
    table = pa.table({"text": ["a"], "deep": pa.array([value], type=arrow)})
    assert rows(read_parquet, parquet_bytes(table)) == [("row 1", {"text": "a", "deep": value})]


def test_parquet_maps_nest_two_levels_each():
    """A map becomes a list of [key, value] pairs: two levels of JSON per level of map."""
    from labelhouse.tasks.readers import MAX_JSON_DEPTH

    arrow: Any = pa.int64()
    value: Any = 1
    for _ in range(MAX_JSON_DEPTH // 2):
        arrow, value = pa.map_(pa.string(), arrow), [("k", value)]
    table = pa.table({"deep": pa.array([value], type=arrow)})
    [(where, error)] = rows(read_parquet, parquet_bytes(table))
    assert where == "row 1" and isinstance(error, RowError)
    assert error.problem == f"nested deeper than {MAX_JSON_DEPTH} levels"


# -- an unterminated quote in a CSV (issue 14 item 10) ------------------------------------------

UNTERMINATED = 'a quote (") that opens a cell on this line is never closed'


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'text,lang\nok,en\n"never closed,en\nmore,fr\nrows,de\n', "line 3"),
        (b'text,lang\nok,en\n"never closed,en', "line 3"),  # no final newline
        (b'text,lang\nok,en\nfine,"open\r\nmore\r\n', "line 3"),
        # the record starts on line 2 with a closed multi-line cell; the bad quote is on line 3
        (b'text,lang\n"two\nlines","open\nmore\n', "line 3"),
        (b'text\n"', "line 2"),
        (b'"text,lang\nok,en\n', "line 1"),  # in the header
    ],
)
def test_csv_unterminated_quote_is_fatal_naming_the_line_where_it_opened(data, where):
    result = rows(read_csv, data)
    good, (last_where, error) = result[:-1], result[-1]
    assert all(not isinstance(r, RowError) for _, r in good)
    assert last_where == where
    assert isinstance(error, RowError) and error.fatal
    assert error.problem.startswith(UNTERMINATED)


def test_csv_unterminated_quote_in_a_long_file_is_named_once_the_record_is_too_long(
    monkeypatch,
):
    """Past the record limit the reader stops before the end of the file: the record's
    first line is named, with the likely cause."""
    import labelhouse.tasks.readers as readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1_000)
    data = b'text\nok\n"open\n' + b"a row\n" * 1_000
    result = rows(read_csv, data)
    assert result[0] == ("line 2", {"text": "ok"})
    where, error = result[1]
    assert where == "line 3" and error.fatal
    assert 'is a quote (") on this line never closed?' in error.problem
    assert len(result) == 2


def test_csv_quoted_cells_closed_at_the_end_of_the_file_are_fine():
    data = b'text,lang\n"multi\nline",en\n"last ""quoted"" cell","x"'
    assert rows(read_csv, data) == [
        ("line 3", {"text": "multi\nline", "lang": "en"}),
        ("line 4", {"text": 'last "quoted" cell', "lang": "x"}),
    ]
