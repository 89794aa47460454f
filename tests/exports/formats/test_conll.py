"""CoNLL-2003 export parsed back: four columns, IOB2 tags, a ``-DOCSTART-`` per document,
entities compared with the stored spans (overlaps: the longest kept, the rest counted in the
export's audit event); both tokenizers; raw and consensus values."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.review import service as review
from tests.exports.formats.worlds import SPAN_FIRST, SPAN_SECOND, TEXTS, spans_value, spans_world
from tests.factories import add_member, login, make_project
from tests.helpers_data import error_of

DOCSTART = "-DOCSTART- -X- -X- O"


@pytest.fixture
def world(db, owner):
    return spans_world(db, owner)


def export(app, world, **params):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "conll", **params}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def documents(body):
    """[[sentence: [(token, tag)]]] per document, every line checked."""
    docs: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []
    for line in body.split("\n"):
        if line == DOCSTART:
            assert not sentence
            docs.append([])
            continue
        if line == "":
            if sentence:
                docs[-1].append(sentence)
            sentence = []
            continue
        token, pos, chunk, tag = line.split(" ")
        assert (pos, chunk) == ("_", "_")
        assert tag == "O" or tag[:2] in ("B-", "I-")
        if tag.startswith("I-"):  # IOB2: I- only continues the same label
            previous = sentence[-1][1] if sentence else "O"
            assert previous[2:] == tag[2:] and previous != "O"
        sentence.append((token, tag))
    assert not sentence
    return docs


def entities(doc, text):
    """The doc's entities as (start, end, label) character offsets in ``text``."""
    found, at, current = [], 0, None
    for token, tag in (pair for sentence in doc for pair in sentence):
        start = text.index(token, at)
        at = start + len(token)
        if tag.startswith("B-"):
            current = [start, at, tag[2:]]
            found.append(current)
        elif tag.startswith("I-"):
            current[1] = at
    return [tuple(e) for e in found]


def texts_in_order(world):
    return sorted(TEXTS, key=lambda ext: world.task_ids[ext])


@pytest.mark.parametrize("tokenizer", ["regex", "spacy"])
def test_raw_documents_hold_each_answer_s_entities(app, world, tokenizer):
    if tokenizer == "spacy":
        pytest.importorskip("spacy")
    docs = documents(export(app, world, tokenizer=tokenizer))
    # task order, then annotation order (the first annotator answered everything first)
    answered = [e for e in texts_in_order(world) if e in SPAN_FIRST]
    assert len(docs) == 6
    for i, ext in enumerate(answered):
        for j, given in enumerate((SPAN_FIRST, SPAN_SECOND)):
            doc = docs[2 * i + j]
            text = TEXTS[ext]
            tokens = [t for sentence in doc for t, _ in sentence]
            assert "".join(tokens) == "".join(text.split())  # every character, no space
            want = sorted(set(given[ext]) - {(15, 18, "ORG"), (1, 5, "PER")})
            assert entities(doc, text) == want
    s0 = docs[0]
    assert [[t for t, _ in sentence] for sentence in s0] == [
        ["Alice", "moved", "to", "New", "York", "."],
        ["She", "likes", "it", "."],
    ]
    assert [tag for _, tag in s0[0]] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]
    with world.owner.db.read_session() as s:
        finished = s.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == "project.export_finished")
            .order_by(AuditEvent.id)
        ).all()[-1]
    # (15, 18) ORG lost to the longer LOC; (1, 5) PER touches the same token as (0, 5) PER
    assert finished["counts"] == {"overlapping_spans_dropped": 2}


def test_consensus_documents_one_per_task(app, world):
    docs = documents(export(app, world, values="consensus", tokenizer="regex"))
    assert len(docs) == 3
    answered = [e for e in texts_in_order(world) if e in SPAN_FIRST]
    s1 = docs[answered.index("s1")]
    assert (0, 3, "PER") in entities(s1, TEXTS["s1"])
    assert docs[answered.index("s2")] and all(
        tag == "O" for sentence in docs[answered.index("s2")] for _, tag in sentence
    )


def test_reviewed_values_are_the_reviewer_s_correction_only(app, db, world):
    reviewer = add_member(db, world.owner, Role.reviewer)
    correction = spans_value([(0, 3, "PER"), (13, 22, "ORG")])
    with db.session() as s:
        review.decide(s, reviewer.actor, world.task_ids["s1"], decision="correct", value=correction)
    (doc,) = documents(export(app, world, values="reviewed", tokenizer="regex"))
    assert entities(doc, TEXTS["s1"]) == [(0, 3, "PER"), (13, 22, "ORG")]


def test_bad_options_and_a_schema_without_spans_are_422(app, db, world):
    c = login(app, world.owner)
    r = c.get(f"/api/projects/{world.pid}/export", params={"format": "conll", "tokenizer": "ws"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "tokenizer"
    pid = make_project(db, world.owner)
    r = c.get(f"/api/projects/{pid}/export", params={"format": "conll"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "field"


def test_cli_writes_the_file_and_says_what_it_could_not_write(db, db_url, tmp_path, world):
    out = tmp_path / "train.conll"
    result = CliRunner().invoke(
        cli_app,
        [
            "export",
            str(world.pid),
            "--format",
            "conll",
            "--option",
            "tokenizer=regex",
            "-o",
            str(out),
            "--data-dir",
            str(tmp_path / "cli-data"),
        ],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert len(documents(out.read_text())) == 6
    assert "2 overlapping spans dropped" in " ".join(result.stderr.split())
    assert result.stdout == ""
