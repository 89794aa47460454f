"""The client against a real server process (see conftest.py): every call over HTTP, the
results typed, the API's errors raised as the client's exceptions."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from labelhouse.client import (
    AuthenticationError,
    Client,
    ImportProgress,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ReadOnlyToken,
)
from tests.client.conftest import LiveServer, login

SCHEMA = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}],
        },
        {"name": "note", "kind": "text", "required": False},
    ]
}


def new_project(lh: Client, **options):
    return lh.create_project(f"p-{uuid.uuid4().hex[:8]}", SCHEMA, **options)


def test_projects_and_schemas(lh: Client):
    project = new_project(lh, description="d", overlap=2)
    assert project.overlap == 2 and project.description == "d" and project.schema_version == 1
    got = lh.get_project(project)
    assert got.schema is not None
    assert [(f.name, f.kind) for f in got.schema.fields] == [
        ("sentiment", "choice"),
        ("note", "text"),
    ]
    assert project.id in [p.id for p in lh.list_projects()]

    changed = {"fields": [*SCHEMA["fields"], {"name": "stars", "kind": "rating", "max": 5}]}
    assert lh.validate_schema(changed).fields[-1].name == "stars"
    stored = lh.update_schema(project, changed)
    assert stored.version == 2
    assert lh.get_schema(project.id).version == 2
    assert [s.version for s in lh.schema_versions(project)] == [1, 2]

    renamed = lh.update_project(project, name=project.name + "!", review_mode="all")
    assert renamed.name.endswith("!") and renamed.review_mode == "all"


def test_an_invalid_schema_is_invalid_input_naming_the_field(lh: Client):
    bad = {"fields": [{"name": "sentiment", "kind": "choice", "reads": ["text"], "options": []}]}
    with pytest.raises(InvalidInput) as caught:
        lh.create_project("bad", bad)
    err = caught.value
    assert err.status == 422 and err.code == "invalid_input"
    assert err.problems, "the field problems are carried"
    fields = [field for field, _ in err.problems]
    assert any("fields[0]" in f or "sentiment" in f for f in fields), fields
    assert any("options" in f + m for f, m in err.problems), err.problems
    with pytest.raises(InvalidInput) as again:
        lh.validate_schema({"fields": [{"name": "x", "kind": "no-such-kind"}]})
    assert any("kind" in f + m for f, m in again.value.problems), again.value.problems


def test_missing_objects_are_not_found(lh: Client):
    with pytest.raises(NotFound) as caught:
        lh.get_project(987654321)
    assert caught.value.status == 404 and caught.value.message
    with pytest.raises(NotFound):
        lh.get_task(987654321)


def test_import_an_iterable_of_a_thousand_dicts_with_progress(lh: Client):
    project = new_project(lh)
    seen: list[ImportProgress] = []
    rows = ({"external_id": f"t{i}", "text": f"review number {i}"} for i in range(1000))
    result = lh.import_tasks(project, rows, batch_size=300, progress=seen.append)
    assert (result.rows, result.created, result.duplicates, result.rejected) == (1000, 1000, 0, 0)
    assert len(result.import_ids) == 4
    assert [p.rows_sent for p in seen] == [300, 600, 900, 1000]
    assert [p.created for p in seen] == [300, 600, 900, 1000]
    assert seen[-1].bytes_sent > 1000 * 20

    tasks = list(lh.iter_tasks(project, page_size=128))  # eight pages
    assert len(tasks) == 1000
    assert [t.external_id for t in tasks[:2]] == ["t0", "t1"]
    assert tasks[999].data == {"text": "review number 999"}
    assert [t.id for t in tasks] == sorted(t.id for t in tasks)

    again = lh.import_tasks(project, ({"external_id": f"t{i}", "text": "x"} for i in range(1000)))
    assert (again.created, again.duplicates) == (0, 1000)


def test_import_files_and_a_bad_row(lh: Client, tmp_path: Path):
    project = new_project(lh)
    jsonl = tmp_path / "tasks.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(50)))
    seen: list[ImportProgress] = []
    result = lh.import_tasks(project, jsonl, progress=seen.append)
    assert result.created == 50
    assert seen[-1].bytes_sent == seen[-1].total_bytes == jsonl.stat().st_size

    table = tmp_path / "more.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows([["external_id", "text"], ["c1", "from csv"], ["c2", "too"]])
    assert lh.import_tasks(project, table).created == 2

    with pytest.raises(InvalidInput) as caught:
        lh.import_tasks(project, [{"text": "fine"}, {"other": "no text key"}])
    assert caught.value.problems, "the bad row is named"
    assert lh.import_tasks(project, [{"text": "ok"}, {"other": 1}], skip_invalid=True).rejected == 1


def _queue_project(lh: Client, live: LiveServer):
    project = new_project(lh, overlap=2)
    lh.update_project(project, review_mode="all")
    lh.add_members(project, ["ann1@client.test", "ann2@client.test"], "annotator")
    lh.add_members(project, ["rev@client.test"], "reviewer")
    lh.import_tasks(project, [{"external_id": f"q{i}", "text": f"t{i}"} for i in range(3)])
    return project


def test_annotate_skip_review_quality_and_export(lh: Client, live: LiveServer, tmp_path: Path):
    project = _queue_project(lh, live)
    with login(live, "ann2@client.test") as session:
        # the second annotator works with a token made through its password session
        token = session.create_token("work").token
    with login(live, "ann1@client.test") as ann1, Client(live.url, token=token) as ann2:
        for annotator, skip_last in ((ann1, False), (ann2, True)):
            for i in range(3):
                got = annotator.next_task(project)
                assert got.task is not None and got.lease is not None
                assert got.schema is not None and got.schema.fields[0].name == "sentiment"
                assert annotator.next_task(project).task.id == got.task.id  # same lease
                if skip_last and i == 2:
                    key = str(uuid.uuid4())
                    assert annotator.skip(got.task, reason="unclear", idempotency_key=key) is False
                    assert annotator.skip(got.task, reason="unclear", idempotency_key=key) is True
                    continue
                key = str(uuid.uuid4())
                value = {"sentiment": "pos" if i else "neg"}
                first = annotator.submit(got.task, value, idempotency_key=key)
                assert first.created and not first.replayed
                assert first.annotation.status == "submitted"
                again = annotator.submit(got.task, value, idempotency_key=key)
                assert again.replayed and again.annotation.id == first.annotation.id
                assert again.annotation.revision == first.annotation.revision == 1
            assert annotator.next_task(project).task is None

    with login(live, "rev@client.test") as reviewer:
        item = reviewer.next_review(project)
        assert item is not None and len(item.task.annotations) == 2
        assert item.majority["sentiment"] in ("pos", "neg")
        assert item.agreement["sentiment"] in (0.5, 1.0)
        review = reviewer.decide(item.task, "accept")
        assert review.decision == "accept" and review.task_id == item.task.id
        assert [r.id for r in reviewer.reviews(item.task)] == [review.id]
        second = reviewer.next_review(project)
        assert second is not None and second.task.id != item.task.id
        corrected = reviewer.decide(second.task, "correct", value={"sentiment": "neg"})
        assert corrected.value == {"sentiment": "neg"}

    report = lh.quality_report(project)
    assert report.project_id == project.id and report.method == "majority"
    assert report.annotators == 2 and report.annotations == 5
    sentiment = report.field("sentiment")
    assert sentiment.kind == "choice" and sentiment.overlapping_tasks == 2
    assert sentiment.agreement == pytest.approx(1.0)
    assert {s.email for s in report.scorecards} == {"ann1@client.test", "ann2@client.test"}
    consensus = list(lh.iter_consensus(project, page_size=1))
    assert [c.external_id for c in consensus] == ["q0", "q1", "q2"]
    assert consensus[0].fields["sentiment"]["value"] == "neg"

    out = lh.export(project, tmp_path / "out" / "labels.jsonl")
    records = [json.loads(x) for x in Path(out.path).read_text().splitlines()]
    assert out.bytes == Path(out.path).stat().st_size and out.filename
    assert [r["external_id"] for r in records] == ["q0", "q1", "q2"]
    assert len(records[0]["annotations"]) == 2
    assert not (tmp_path / "out" / "labels.jsonl.part").exists()

    both = lh.export(project, tmp_path / "c.jsonl", content="consensus")
    first = json.loads(Path(both.path).read_text().splitlines()[0])
    assert first["consensus"]["sentiment"]["value"] == "neg"
    table = lh.export(project, tmp_path / "labels.csv", format="csv")
    with Path(table.path).open() as f:
        rows = list(csv.DictReader(f))  # one row per answer
    assert len(rows) == 5 and {r["external_id"] for r in rows} == {"q0", "q1", "q2"}
    with pytest.raises(InvalidInput) as caught:
        lh.export(project, tmp_path / "x.jsonl", no_such_option="1")
    assert "no_such_option" in str(caught.value)
    assert not (tmp_path / "x.jsonl").exists()


class DropFirstAnswer(httpx.HTTPTransport):
    """The network at the client's edge: the first submission reaches the server and is
    stored, but its answer is lost (as with a proxy timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/annotations") and not self.dropped:
            response.read()
            response.close()
            self.dropped += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_a_submit_whose_answer_was_lost_is_retried_once_and_written_once(
    lh: Client, live: LiveServer
):
    project = new_project(lh)
    lh.import_tasks(project, [{"text": "only"}])
    transport = DropFirstAnswer()
    with Client(live.url, token=live.owner_token, transport=transport, sleep=lambda s: None) as c:
        task = c.next_task(project).task
        done = c.submit(task, {"sentiment": "pos"})
        assert transport.dropped == 1 and c.retries == 1
        assert done.replayed  # the server had it: the retry got the first answer back
    annotations = lh.task_annotations(task)
    assert [(a.revision, a.value) for a in annotations] == [(1, {"sentiment": "pos"})]


def test_an_invalid_answer_names_its_field(lh: Client):
    project = new_project(lh)
    lh.import_tasks(project, [{"text": "one"}])
    task = lh.next_task(project).task
    with pytest.raises(InvalidInput) as caught:
        lh.submit(task, {"sentiment": "maybe"})
    assert [f for f, _ in caught.value.problems] == ["sentiment"]
    assert "sentiment" in str(caught.value)


def test_authentication_and_permission_errors(lh: Client, live: LiveServer):
    with (
        Client(live.url, token="lh_not-a-real-token") as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.list_projects()
    with pytest.raises(AuthenticationError):
        Client.login(live.url, "ann1@client.test", "wrong password!")
    with login(live, "ann1@client.test") as ann1, pytest.raises(PermissionDenied):
        ann1.create_project("not mine", SCHEMA)
    read_only = lh.create_token("reader", read_only=True)
    assert read_only.read_only and read_only.token
    with Client(live.url, token=read_only.token) as reader:
        assert reader.me().email == "owner@client.test"
        with pytest.raises(ReadOnlyToken):
            new_project(reader)
    lh.revoke_token(read_only)
    assert read_only.id not in [t.id for t in lh.list_tokens()]


def test_login_sessions_send_csrf_and_log_out(live: LiveServer):
    c = login(live, "ann2@client.test")
    with c:
        assert c.me().email == "ann2@client.test" and not c.must_change_password
        token = c.create_token("short-lived")  # a write: needs the session's CSRF token
        c.revoke_token(token)
        c.logout()
        with pytest.raises(AuthenticationError):
            c.me()


def test_a_write_refused_with_503_while_the_database_is_locked_is_retried(live: LiveServer):
    """Another program holds SQLite's write lock for 2.5 s: the server answers 503 with
    Retry-After after its 1 s lock timeout, and the client sends the request again until it
    goes through; the project is created once."""
    if live.backend != "sqlite":
        pytest.skip("holds SQLite's file lock")
    other = sqlite3.connect(
        live.data_dir / "labelhouse.db", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.5, lambda: other.execute("ROLLBACK"))
    release.start()
    name = f"locked-{uuid.uuid4().hex[:8]}"
    try:
        with live.client(max_wait=1.0) as c:
            project = c.create_project(name, SCHEMA)
            assert c.retries >= 1
    finally:
        release.join()
        other.close()
    with live.client() as c:
        assert [p.id for p in c.list_projects() if p.name == name] == [project.id]
