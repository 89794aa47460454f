"""Rubrics through the HTTP API: versions, validation naming the criterion, organization
isolation, role refusal, and a project scoring a rubric field end to end."""

from __future__ import annotations

from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.annotations.models import Annotation
from labelhouse.audit.models import AuditEvent
from labelhouse.rubrics.models import RubricVersion
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.helpers_data import detached, error_of

CRITERIA = [
    {"name": "helpfulness", "min": 1, "max": 5, "weight": 3, "anchors": {"1": "no", "5": "yes"}},
    {"name": "correctness", "scale": "pass_fail", "critical": True},
]
CRITERIA_YAML = """
- name: helpfulness
  min: 1
  max: 5
  weight: 3
  anchors: {1: "no", 5: "yes"}
- {name: correctness, scale: pass_fail, critical: true}
"""


def rubric_field(rubric_id: int, version: int = 1) -> dict:
    return {
        "fields": [
            {
                "name": "quality",
                "kind": "rubric",
                "rubric_id": rubric_id,
                "version": version,
                "reads": ["text"],
            }
        ]
    }


def test_rubric_versions_are_created_listed_and_never_changed(app, db, owner):
    c = login(app, owner)
    r = c.post("/api/rubrics", json={"name": "Reply quality", "criteria": CRITERIA_YAML})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["latest_version"] == 1
    [v1] = created["versions"]
    assert v1["criteria"][0]["anchors"] == {"1": "no", "5": "yes"}
    assert v1["criteria"][1] == {
        "name": "correctness",
        "scale": "pass_fail",
        "min": 0,
        "max": 1,
        "anchors": {"0": "Fail", "1": "Pass"},
        "weight": 1.0,
        "critical": True,
    }
    rid = created["id"]
    again = c.post("/api/rubrics", json={"name": "Reply quality", "criteria": CRITERIA})
    assert again.status_code == 409
    assert "exists already" in error_of(again)["message"]
    r = c.post(
        f"/api/rubrics/{rid}/versions",
        json={"criteria": CRITERIA[:1], "note": "correctness dropped"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    shown = c.get(f"/api/rubrics/{rid}").json()
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["criteria"] == v1["criteria"]  # version 1 unchanged
    listed = c.get("/api/rubrics").json()["items"]
    assert [(i["name"], i["latest_version"], i["versions"]) for i in listed] == [
        ("Reply quality", 2, 2)
    ]
    with db.read_session() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "rubric")
        ).all()
        assert sorted(actions) == ["rubric.create", "rubric.version"]
        assert s.scalar(select(RubricVersion.id).where(RubricVersion.version == 2)) is not None
    page = c.get("/rubrics")
    assert page.status_code == 200
    assert 'data-rubric="Reply quality"' in page.text and "critical" in page.text


def test_invalid_criteria_name_each_problem(app, owner):
    c = login(app, owner)
    bad = [
        {"name": "helpfulness", "min": 1, "max": 5, "anchors": {"9": "x"}},
        {"name": "helpfulness"},
        {"name": "tone", "weight": "heavy"},
    ]
    r = c.post("/api/rubrics", json={"name": "Bad", "criteria": bad})
    assert r.status_code == 422
    err = error_of(r)
    problems = {d["field"]: d["problem"] for d in err["details"]}
    assert "anchors describe 9, outside the scale 1..5" in problems["criteria[0]"]
    assert "criteria[2].weight" in problems
    r = c.post("/api/rubrics", json={"name": "Bad", "criteria": "- name: [unclosed"})
    assert r.status_code == 422
    assert error_of(r)["message"] == "The criteria are not valid JSON or YAML."
    assert error_of(r)["details"][0]["field"].startswith("line ")
    dup = c.post("/api/rubrics", json={"name": "Dup", "criteria": [{"name": "a"}, {"name": "a"}]})
    assert "criterion name 'a' is used twice" in str(error_of(dup)["details"])


def test_annotators_are_refused_and_other_organizations_see_nothing(app, db, owner):
    c = login(app, owner)
    rid = c.post("/api/rubrics", json={"name": "Mine", "criteria": CRITERIA}).json()["id"]
    manager = login(app, add_member(db, owner, Role.manager))
    assert manager.get(f"/api/rubrics/{rid}").status_code == 200
    assert (
        manager.post(f"/api/rubrics/{rid}/versions", json={"criteria": CRITERIA}).status_code == 201
    )
    annotator = login(app, add_member(db, owner, Role.annotator))
    for r in (
        annotator.get("/api/rubrics"),
        annotator.get(f"/api/rubrics/{rid}"),
        annotator.post("/api/rubrics", json={"name": "X", "criteria": CRITERIA}),
        annotator.post(f"/api/rubrics/{rid}/versions", json={"criteria": CRITERIA}),
    ):
        assert r.status_code == 403, r.text
        assert "organization's manager role" in error_of(r)["message"]
    other = make_org(db, "Other lab")
    stranger = login(app, other)
    hidden = stranger.get(f"/api/rubrics/{rid}")
    missing = stranger.get("/api/rubrics/999999")
    assert hidden.status_code == missing.status_code == 404
    assert error_of(hidden)["message"].replace(str(rid), "N") == error_of(missing)[
        "message"
    ].replace("999999", "N")
    assert stranger.get("/api/rubrics").json()["items"] == []
    r = stranger.post(f"/api/rubrics/{rid}/versions", json={"criteria": CRITERIA})
    assert r.status_code == 404
    # A schema of the other organization cannot name this rubric.
    other_project = make_project(db, other)
    r = stranger.put(f"/api/projects/{other_project}/schema", json={"schema": rubric_field(rid)})
    assert r.status_code == 422
    assert error_of(r)["details"] == [
        {
            "field": "fields[0].rubric_id",
            "problem": f"field 'quality': this organization has no rubric {rid} with a version 1; "
            "see the Rubrics page for ids and versions",
        }
    ]


def test_a_project_scores_a_rubric_version_and_the_server_computes_the_aggregate(
    app, db, owner, annotator
):
    c = login(app, owner)
    rid = c.post("/api/rubrics", json={"name": "Q", "criteria": CRITERIA}).json()["id"]
    unknown = c.post("/api/schemas/validate", json={"schema": rubric_field(rid, version=2)})
    assert unknown.status_code == 422
    assert "no rubric" in error_of(unknown)["details"][0]["problem"]
    # Criteria sent with the schema are replaced by the stored version's.
    sent = rubric_field(rid)
    sent["fields"][0]["criteria"] = [{"name": "forged", "min": 1, "max": 2}]
    pid = make_project(db, owner, sent)
    add_tasks(db, owner, pid, [{"text": "a reply"}])
    schema = c.get(f"/api/projects/{pid}/schema").json()
    field = schema["schema"]["fields"][0] if "schema" in schema else schema["fields"][0]
    assert [x["name"] for x in field["criteria"]] == ["helpfulness", "correctness"]
    assert field["rubric_name"] == "Q"
    # A new version does not change the project's criteria.
    c.post(f"/api/rubrics/{rid}/versions", json={"criteria": CRITERIA[:1]})
    a = login(app, annotator)
    task = a.post(f"/api/projects/{pid}/next").json()["task"]
    bad = a.post(
        f"/api/tasks/{task['id']}/annotations",
        json={"value": {"quality": {"scores": {"helpfulness": 4, "tone": 1, "correctness": 1}}}},
    )
    assert bad.status_code == 422
    assert error_of(bad)["details"][0]["field"] == "quality.scores.tone"
    r = a.post(
        f"/api/tasks/{task['id']}/annotations",
        json={
            "value": {
                "quality": {
                    "scores": {"helpfulness": 5, "correctness": 0},
                    "justifications": {"correctness": "wrong year"},
                    "failed_critical": False,
                }
            }
        },
    )
    assert r.status_code == 200, r.text
    [stored] = detached(db, select(Annotation.value).where(Annotation.project_id == pid))
    assert stored["quality"] == {
        "scores": {"helpfulness": 5, "correctness": 0},
        "justifications": {"correctness": "wrong year"},
        "aggregate": 0.75,
        "failed_critical": True,
        "failed_criteria": ["correctness"],
        "rubric_id": rid,
        "rubric_version": 1,
    }
