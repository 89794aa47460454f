"""spaCy export loaded back with ``spacy.blank("en")``: ``doc.spans["sc"]`` holds every
stored span, ``doc.ents`` the ones that overlap no other, unaligned spans are listed and
counted; raw and consensus values. Without spaCy the format is refused in one sentence."""

from __future__ import annotations

import sys

import pytest

from tests.exports.formats.worlds import SPAN_FIRST, TEXTS, spans_world
from tests.factories import login, make_project
from tests.helpers_data import error_of

spacy = pytest.importorskip("spacy")
from spacy.tokens import DocBin  # noqa: E402


@pytest.fixture
def world(db, owner):
    return spans_world(db, owner)


def export(app, world, **params):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "spacy", **params}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].endswith('.spacy"')
    nlp = spacy.blank("en")
    return list(DocBin().from_bytes(r.content).get_docs(nlp.vocab))


def chars(spans):
    return sorted((s.start_char, s.end_char, s.label_) for s in spans)


def test_raw_docs_carry_every_answer_with_ents_and_spans(app, world):
    docs = export(app, world)
    assert len(docs) == 6  # s0..s2 by two annotators; s3 has no answer
    by_key = {
        (d.user_data["labelhouse"]["task_id"], d.user_data["labelhouse"]["annotator_id"]): d
        for d in docs
    }
    for annotator, given in world.answers.items():
        for ext, spans in given.items():
            doc = by_key[world.task_ids[ext], annotator]
            assert doc.text == TEXTS[ext]
            about = doc.user_data["labelhouse"]
            assert about["external_id"] == ext
            assert list(about["unaligned_spans"]) == []  # msgpack gives tuples
            # every span is on token boundaries except (1, 5) "lice", expanded to "Alice"
            aligned = sorted({(0, 5, s[2]) if s[:2] == (1, 5) else s for s in spans})
            assert chars(doc.spans["sc"]) == aligned
    first = next(a for a, g in world.answers.items() if g is SPAN_FIRST)
    doc = by_key[world.task_ids["s0"], first]
    # "New York" (LOC) and "New" (ORG) overlap: spans only, and their tokens are missing
    assert chars(doc.ents) == [(0, 5, "PER")]
    assert [t.ent_iob_ for t in doc[3:5]] == ["", ""]
    assert doc[2].ent_iob_ == "O"
    other = by_key[world.task_ids["s0"], next(a for a in world.answers if a != first)]
    assert chars(other.ents) == [(0, 5, "PER"), (15, 23, "LOC")]
    s1 = by_key[world.task_ids["s1"], first]
    assert chars(s1.ents) == [(0, 3, "PER"), (13, 22, "ORG"), (26, 31, "LOC")]
    assert by_key[world.task_ids["s2"], first].ents == ()


def test_strict_alignment_lists_and_counts_the_spans_it_cannot_place(app, world):
    for mode in ("strict", "contract"):  # no token lies inside "lice" of "Alice"
        docs = export(app, world, alignment_mode=mode)
        unaligned = [list(u) for d in docs for u in d.user_data["labelhouse"]["unaligned_spans"]]
        assert unaligned == [[1, 5, "PER"]]
        (doc,) = [d for d in docs if d.user_data["labelhouse"]["unaligned_spans"]]
        assert (0, 5, "PER") in chars(doc.spans["sc"])  # the other "Alice" span stays


def test_consensus_one_doc_per_task(app, world):
    docs = export(app, world, values="consensus")
    by_task = {d.user_data["labelhouse"]["task_id"]: d for d in docs}
    assert set(by_task) == {world.task_ids[k] for k in ("s0", "s1", "s2")}
    s1 = by_task[world.task_ids["s1"]]
    assert s1.user_data["labelhouse"]["method"] == "overlap_vote"
    assert "annotator_id" not in s1.user_data["labelhouse"]
    assert (0, 3, "PER") in chars(s1.ents) and (26, 31, "LOC") in chars(s1.ents)
    assert chars(s1.ents) == chars(s1.spans["sc"])


def test_bad_options_and_a_schema_without_spans_are_422(app, db, world):
    c = login(app, world.owner)
    url = f"/api/projects/{world.pid}/export"
    r = c.get(url, params={"format": "spacy", "lang": "klingon"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "lang"
    r = c.get(url, params={"format": "spacy", "alignment_mode": "snap"})
    assert error_of(r)["details"][0]["field"] == "alignment_mode"
    pid = make_project(db, world.owner)
    r = c.get(f"/api/projects/{pid}/export", params={"format": "spacy"})
    assert r.status_code == 422
    assert "needs a spans field" in error_of(r)["message"]


def test_without_spacy_the_format_is_refused_with_the_install_line(app, world, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # as if the ml extra were not installed
    r = login(app, world.owner).get(f"/api/projects/{world.pid}/export", params={"format": "spacy"})
    assert r.status_code == 422
    assert "pip install 'labelhouse[ml]'" in error_of(r)["message"]


def test_concurrent_exports_share_the_encoder_lookup_and_leave_srsly_as_found():
    """Exports run on several threads: each may end while others still write. The lookup
    that is cached for them is restored only when the last one ends (the first version
    restored it at each end, and the second export to end raised AttributeError)."""
    import threading

    pytest.importorskip("spacy")
    from srsly.msgpack import msgpack_encoders

    from labelhouse.exports.formats import spacy_docbin

    errors: list[BaseException] = []
    both_inside = threading.Barrier(2)

    def export() -> None:
        try:
            with spacy_docbin._encoders_looked_up_once():
                both_inside.wait(timeout=10)
                assert isinstance(msgpack_encoders.get_all(), dict)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert "get_all" not in vars(msgpack_encoders)  # srsly's own method again


def _summary(doc):
    about = doc.user_data["labelhouse"]
    return (
        about["task_id"],
        about.get("annotator_id"),
        doc.text,
        chars(doc.spans["sc"]),
        chars(doc.ents),
        [t.ent_iob_ for t in doc],
    )


def test_shard_size_writes_a_zip_of_docbins_that_together_hold_every_doc(app, world, tmp_path):
    """A project larger than one shard: each .spacy holds at most shard_size docs, and
    spaCy's own DocBin reads back every doc of the single-file export, spans and all; the
    unzipped folder is a corpus for ``spacy train`` (its Corpus reader walks the folder)."""
    import io
    import zipfile

    whole = export(app, world)
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "spacy", "shard_size": "4"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].endswith('.spacy.zip"')
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == ["docs-00001.spacy", "docs-00002.spacy"]
    nlp = spacy.blank("en")
    shards = [
        list(DocBin().from_bytes(archive.read(name)).get_docs(nlp.vocab))
        for name in archive.namelist()
    ]
    assert [len(s) for s in shards] == [4, 2]
    assert [_summary(d) for s in shards for d in s] == [_summary(d) for d in whole]
    archive.extractall(tmp_path)
    from spacy.training import Corpus

    examples = list(Corpus(tmp_path, shuffle=False)(nlp))
    assert sorted(e.reference.text for e in examples) == sorted(d.text for d in whole)


def test_an_export_without_docs_is_one_empty_shard(app, world):
    import io
    import zipfile

    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export",
        params={"format": "spacy", "shard_size": "10", "values": "reviewed"},
    )
    assert r.status_code == 200, r.text
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == ["docs-00001.spacy"]
    assert len(DocBin().from_bytes(archive.read("docs-00001.spacy"))) == 0


@pytest.mark.parametrize("bad", ["0", "-3", "2.5", "many"])
def test_a_bad_shard_size_is_422_naming_it(app, world, bad):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "spacy", "shard_size": bad}
    )
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "shard_size"


def test_the_streamed_docbin_is_byte_for_byte_spacys_own():
    """The writer keeps no docs, yet writes what DocBin.to_bytes writes: small batches,
    empty docs, non-ASCII text, spans, ents and user data."""
    from labelhouse.exports.formats import _docbin_stream

    nlp = spacy.blank("en")
    docs = []
    for i in range(1234):
        text = "" if i % 11 == 3 else f"Alice {i} went to Paris wörd{i % 50} .  don't\n"
        doc = nlp.make_doc(text * (1 + i % 3))
        if len(doc):
            doc.ents = [doc.char_span(0, 5, label="PER")]
            doc.spans["sc"] = [doc.char_span(0, 5, label=f"L{i % 20}"), doc[1:3]]
        doc.user_data["labelhouse"] = {"task_id": i, "unaligned_spans": [[1, 2, "X"]]}
        docs.append(doc)
    for batch in (7, _docbin_stream.BATCH):
        streamed = b"".join(_docbin_stream.docbin_chunks(docs, batch=batch))
        assert streamed == DocBin(store_user_data=True, docs=docs).to_bytes()
    assert b"".join(_docbin_stream.docbin_chunks([])) == DocBin(store_user_data=True).to_bytes()
