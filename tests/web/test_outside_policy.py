"""What a vendor is shown, end to end: the outside policy API, a vendor annotator's /next,
task and listing (redacted, marked, no hidden key) next to a lab annotator's and the
export (the original), spans offsets that stay true, and tracing leaked text back to its
serving through the API and the CLI (within the caller's organization only)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import orjson
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.cli.main import app as cli_app
from labelhouse.people import project_members, teams, workforces
from labelhouse.tasks import routing
from labelhouse.tasks.canary import DIGITS, find_markers
from labelhouse.tasks.models import Assignment, Task
from tests.factories import Member, add_member, add_tasks, login, make_org, make_project

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}],
        },
        {"name": "reply", "kind": "text", "reads": ["response"], "markdown": True},
    ]
}
SECRET = "You are Acme's internal assistant; never reveal the refund code."
EMAIL, PHONE, ORDER = "jo.doe@example.org", "+1 415 555 0132", "ORD-123456"
TEXT = (
    f"My parcel arrived broken. Write to {EMAIL} or call {PHONE} about {ORDER}, "
    "please. I have waited two weeks for an answer."
)
RESPONSE = f"Sorry about that! We will call {PHONE} today. Your order is **{ORDER}**."
POLICY = {
    "hidden_keys": ["system_prompt", "customer.id"],
    "redact": ["email", "phone", {"name": "order id", "pattern": r"ORD-\d{6}"}],
    "canary": True,
}
ORIGINALS = (SECRET, EMAIL, PHONE, ORDER, "C-1001")


def rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"t{i}",
            "data": {
                "text": TEXT,
                "response": RESPONSE,
                "system_prompt": SECRET,
                "customer": {"id": "C-1001", "tier": "gold"},
            },
            "predictions": [{"value": {"reply": f"Mail {EMAIL} now"}, "model_version": "m1"}],
        }
        for i in range(n)
    ]


def make_vendor(db, owner: Member, pid: int, name: str, person: Member, task_ids=None) -> int:
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[person.email])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="share",
            slots=[routing.Slot(team.id, share=1)],
            selection=routing.Selection(task_ids=task_ids),
        )
        return team.id


@dataclass
class World:
    owner: Member
    pid: int
    vendor: Member
    lab: Member
    task_ids: list[int]


@pytest.fixture
def world(app, db) -> World:
    owner = make_org(db, "Acme")
    pid = make_project(db, owner, SCHEMA, name="Support tickets", overlap=1)
    add_tasks(db, owner, pid, rows(4))
    with db.read_session() as s:
        ids = list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))
    lab = add_member(db, owner, Role.annotator)
    vendor = add_member(db, owner, Role.annotator, join_projects=False)
    make_vendor(db, owner, pid, "Acme Labels Ltd", vendor, task_ids=tuple(ids[:2]))
    r = login(app, owner).put(f"/api/projects/{pid}/outside-policy", json=POLICY)
    assert r.status_code == 200, r.text
    return World(owner, pid, vendor, lab, ids)


def lease_of(db, member: Member, task_id: int) -> int:
    with db.read_session() as s:
        return s.scalar(
            select(Assignment.id).where(
                Assignment.user_id == member.user_id, Assignment.task_id == task_id
            )
        )


def no_original_in(body: str) -> None:
    for secret in ORIGINALS:
        assert secret not in body, secret


def test_a_vendor_is_shown_redacted_marked_data_and_no_hidden_key(app, db, world):
    c = login(app, world.vendor)
    r = c.post(f"/api/projects/{world.pid}/next", params={"render": 1})
    assert r.status_code == 200, r.text
    no_original_in(r.text)
    task = r.json()["task"]
    lease = lease_of(db, world.vendor, task["id"])
    data = task["data"]
    assert set(data) == {"text", "response", "customer"}
    assert data["customer"] == {"tier": "gold"}
    text = data["text"].replace(DIGITS[0], "").replace(DIGITS[1], "")
    assert "[email hidden]" in text and "[phone hidden]" in text and "[order id hidden]" in text
    assert find_markers(data["text"]) == [lease] and find_markers(data["response"]) == [lease]
    # The Markdown is rendered from what the vendor is shown.
    html = task["rendered"]["reply"]["data"]["response"]
    assert "[order id hidden]" in html and find_markers(html) == [lease]
    assert task["predictions"][0]["value"] == {"reply": "Mail [email hidden] now"}

    # The same through the task itself and the listing; no search that could probe them.
    again = c.get(f"/api/tasks/{task['id']}", params={"render": 1})
    assert again.json()["data"] == data
    no_original_in(again.text)
    listing = c.get(f"/api/projects/{world.pid}/tasks")
    assert [t["data"] for t in listing.json()["items"]] == [data]
    no_original_in(listing.text)
    assert c.get(f"/api/projects/{world.pid}/tasks", params={"q": "refund"}).status_code == 403

    # The vendor's own answer comes back redacted too.
    saved = c.post(
        f"/api/tasks/{task['id']}/annotations",
        json={"value": {"label": "neg", "reply": f"Called {PHONE}"}, "draft": True},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["value"]["reply"] == "Called [phone hidden]"
    no_original_in(c.get(f"/api/tasks/{task['id']}/annotations").text)
    no_original_in(c.get(f"/api/annotations/{saved.json()['id']}/history").text)


def test_the_lab_and_the_export_see_the_original(app, db, world):
    lab = login(app, world.lab)
    task = lab.post(f"/api/projects/{world.pid}/next", params={"render": 1}).json()["task"]
    assert task["data"]["text"] == TEXT and task["data"]["system_prompt"] == SECRET
    assert task["data"]["customer"]["id"] == "C-1001"
    assert task["predictions"][0]["value"] == {"reply": f"Mail {EMAIL} now"}
    login(app, world.vendor).post(f"/api/projects/{world.pid}/next")
    owner = login(app, world.owner)
    exported = owner.get(f"/api/projects/{world.pid}/export")
    assert exported.status_code == 200
    assert all(c not in exported.text for c in DIGITS)
    records = [orjson.loads(line) for line in exported.content.splitlines()]
    assert {r["data"]["system_prompt"] for r in records} == {SECRET}
    reviewer_view = owner.get(f"/api/tasks/{world.task_ids[0]}").json()["data"]
    assert reviewer_view["text"] == TEXT


def test_nothing_changes_for_a_vendor_without_a_policy(app, db, world):
    owner = login(app, world.owner)
    empty = {"hidden_keys": [], "redact": [], "canary": False}
    assert owner.put(f"/api/projects/{world.pid}/outside-policy", json={}).json() == empty
    assert owner.get(f"/api/projects/{world.pid}/outside-policy").json() == empty
    task = login(app, world.vendor).post(f"/api/projects/{world.pid}/next").json()["task"]
    assert task["data"]["text"] == TEXT and task["data"]["system_prompt"] == SECRET


def test_spans_offsets_stay_true_for_a_vendor(app, db):
    owner = make_org(db)
    schema = {"fields": [{"name": "ents", "kind": "spans", "labels": [{"value": "PER"}]}]}
    pid = make_project(db, owner, schema, overlap=1)
    text = f"Mail {EMAIL} today. Ask Maria Lopez about the refund, she knows it well."
    add_tasks(db, owner, pid, [{"text": text}])
    vendor = add_member(db, owner, Role.annotator, join_projects=False)
    make_vendor(db, owner, pid, "Spans Inc", vendor)
    c = login(app, owner)
    assert c.put(f"/api/projects/{pid}/outside-policy", json=POLICY).status_code == 200
    v = login(app, vendor)
    task = v.post(f"/api/projects/{pid}/next").json()["task"]
    shown = task["data"]["text"]
    assert len(shown) == len(text) and EMAIL not in shown and find_markers(shown) == []
    start = shown.index("Maria Lopez")
    span = {"start": start, "end": start + len("Maria Lopez"), "label": "PER"}
    email_span = {"start": 5, "end": 5 + len(EMAIL), "label": "PER"}
    r = v.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"ents": [email_span, span]}})
    assert r.status_code == 200, r.text
    texts = [s["text"] for s in r.json()["value"]["ents"]]
    assert texts == ["[email hidden]", "Maria Lopez"]  # the stored text is the original
    stored = c.get(f"/api/tasks/{task['id']}/annotations").json()["items"][0]["value"]["ents"]
    assert [s["text"] for s in stored] == [EMAIL, "Maria Lopez"]


# -- tracing -------------------------------------------------------------------------------


def served_text(app, world: World) -> tuple[str, int]:
    task = login(app, world.vendor).post(f"/api/projects/{world.pid}/next").json()["task"]
    text = task["data"]["text"]
    start = text.index(". I") + 2
    return f"Found on a forum: '{' '.join(text[start:].split())}'", task["id"]


def test_trace_through_the_api_names_the_vendor_and_the_person(app, db, world):
    leaked, task_id = served_text(app, world)
    lease = lease_of(db, world.vendor, task_id)
    r = login(app, world.owner).post("/api/trace", json={"text": leaked})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["found"] == 1 and body["not_found"] == 0
    [hit] = body["markers"]
    assert hit | {"served_at": None} == {
        "lease_id": lease,
        "found": True,
        "workforce": "Acme Labels Ltd",
        "email": world.vendor.email,
        "project_id": world.pid,
        "project": "Support tickets",
        "task_id": task_id,
        "served_at": None,
    }
    assert hit["served_at"]
    none = login(app, world.owner).post("/api/trace", json={"text": "plain text"}).json()
    assert none["markers"] == [] and "No marker found" in none["message"]
    assert login(app, world.lab).post("/api/trace", json={"text": leaked}).status_code == 403


def test_a_marker_from_another_organization_is_not_found(app, db, world):
    leaked, _ = served_text(app, world)
    other = make_org(db, "Rival lab")
    r = login(app, other).post("/api/trace", json={"text": leaked})
    assert r.status_code == 200
    assert r.json()["markers"] == [{"lease_id": r.json()["markers"][0]["lease_id"], "found": False}]
    assert world.vendor.email not in r.text and "Acme" not in r.text


def test_trace_from_the_cli(app, db, db_url, world, tmp_path):
    leaked, task_id = served_text(app, world)
    (tmp_path / "leak.txt").write_text(leaked, encoding="utf-8")
    (tmp_path / "clean.txt").write_text("nothing to see", encoding="utf-8")

    def run(*args: str):
        result = CliRunner().invoke(
            cli_app,
            ["trace", *args, "--data-dir", str(tmp_path / "cli")],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
        )
        assert "Traceback" not in result.output
        return result

    found = run(str(tmp_path / "leak.txt"))
    assert found.exit_code == 0, found.output
    assert "workforce Acme Labels Ltd" in found.stdout and world.vendor.email in found.stdout
    assert f"task {task_id}" in found.stdout and "Support tickets" in found.stdout
    assert "served at 20" in found.stdout
    clean = run(str(tmp_path / "clean.txt"))
    assert clean.exit_code == 1 and "No canary marker found" in clean.stdout
    missing = run(str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr and not missing.stdout


# -- the policy API ------------------------------------------------------------------------


def test_bad_policies_are_refused_naming_the_field(app, db, world):
    c = login(app, world.owner)
    url = f"/api/projects/{world.pid}/outside-policy"

    def fields(body) -> set[str]:
        r = c.put(url, json=body)
        assert r.status_code == 422, r.text
        return {d["field"] for d in r.json()["error"]["details"]}

    assert fields({"hidden_keys": [""]}) == {"hidden_keys[0]"}
    assert fields({"hidden_keys": ["x" * 201]}) == {"hidden_keys[0]"}
    assert fields({"hidden_keys": ["k"] * 101}) == {"hidden_keys"}
    assert fields({"hidden_keys": ["a..b"], "redact": ["ssn"]}) == {"hidden_keys[0]", "redact[0]"}
    assert fields({"redact": [{"name": "id", "pattern": "(a{1,3}){1,9}"}]}) == {"redact[0].pattern"}
    assert fields({"redact": [{"name": "id", "pattern": "x" * 501}]}) == {"redact[0].pattern"}
    assert fields({"redact": [{"name": "id"}, 3]}) == {"redact[0]", "redact[1]"}
    assert fields({"canary": "yes"}) == {"canary"}
    assert fields({"shown": True}) == {"shown"}
    # Nothing was changed by the refusals.
    assert c.get(url).json() == POLICY
    assert login(app, world.lab).get(url).status_code == 403


def test_a_file_named_under_a_hidden_key_stays_hidden_from_a_vendor(app, db):
    """A vendor may fetch the image their task shows, never one named under a hidden key
    of that same task (it would answer 200 to a guessed id)."""
    owner = make_org(db)
    schema = {
        "fields": [
            {
                "name": "label",
                "kind": "choice",
                "reads": ["image"],
                "options": [{"value": "a"}, {"value": "b"}],
            }
        ]
    }
    pid = make_project(db, owner, schema, overlap=1)
    manager = login(app, owner)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), "purple").save(buf, format="PNG")
    png = buf.getvalue()
    files = manager.post(
        f"/api/projects/{pid}/files",
        files=[
            ("files", ("shown.png", png, "image/png")),
            ("files", ("secret.png", png, "image/png")),
        ],
    )
    assert files.status_code in (200, 201), files.text
    add_tasks(db, owner, pid, [{"image": "shown.png", "reference": "secret.png"}])
    vendor = add_member(db, owner, Role.annotator, join_projects=False)
    make_vendor(db, owner, pid, "Vendor", vendor)
    assert (
        manager.put(
            f"/api/projects/{pid}/outside-policy", json={"hidden_keys": ["reference"]}
        ).status_code
        == 200
    )
    c = login(app, vendor)
    task = c.post(f"/api/projects/{pid}/next").json()["task"]
    assert "reference" not in task["data"] and "secret.png" not in str(task)
    ids = {f["name"]: f["id"] for f in files.json()["items"]}
    assert c.get(f"/api/files/{ids['shown.png']}").status_code == 200
    assert c.get(f"/api/files/{ids['secret.png']}").status_code == 404
    lab = login(app, owner)
    assert lab.get(f"/api/files/{ids['secret.png']}").status_code == 200
