"""Comparing workforces: two vendors and a lab annotator in no workforce on one small,
hand-computed project (both databases), the CSV variant, the page, and who may see it.

The world (overlap 2; t0–t3 routed "each" to V1 and V2, t4–t5 routed to nobody; five gold
tasks g0–g4 expecting "pos", every annotator served all five first):

============  ====================  ===================  ===============
annotator     gold g0 g1 g2 g3 g4    ordinary             seconds / task
============  ====================  ===================  ===============
v1a (V1)      pos pos pos pos neg    t0 pos, t1 neg       10
v1b (V1)      pos pos pos pos pos    t2 neu, t3 pos       20
v2a (V2)      pos pos pos neu neu    t0 pos t1 neg        30
                                     t2 pos t3 neg
lab1 (none)   pos pos pos pos pos    t4 pos, t5 neg       40
============  ====================  ===================  ===============

Reviews: t0 accepted, t1 corrected to "neg" (both equal: accepted), t3 corrected to "pos"
(v1b accepted, v2a corrected). V1 pays 0.50 USD per task, V2 36 EUR per hour.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from labelhouse.accounts.models import Role
from labelhouse.db.base import utcnow
from labelhouse.people import project_members, teams, workforces
from labelhouse.quality_report import service as report_service
from labelhouse.quality_report.workforces import LAB_NAME, compare_workforces
from labelhouse.review import service as review
from labelhouse.tasks import queue, routing
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.routing import Selection, Slot
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

GOLD = [f"g{i}" for i in range(5)]
SECONDS = {"v1a": 10, "v1b": 20, "v2a": 30, "lab1": 40}
ANSWERS = {
    "v1a": dict(zip(GOLD, ["pos", "pos", "pos", "pos", "neg"], strict=True))
    | {"t0": "pos", "t1": "neg"},
    "v1b": dict.fromkeys(GOLD, "pos") | {"t2": "neu", "t3": "pos"},
    "v2a": dict(zip(GOLD, ["pos", "pos", "pos", "neu", "neu"], strict=True))
    | {"t0": "pos", "t1": "neg", "t2": "pos", "t3": "neg"},
    "lab1": dict.fromkeys(GOLD, "pos") | {"t4": "pos", "t5": "neg"},
}
WILSON = {(9, 10): (0.5958, 0.9821), (3, 5): (0.2307, 0.8824), (5, 5): (0.5655, 1.0)}


def vendor(db, owner, pid, name, people, **prices):
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[p.email for p in people])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor", **prices)
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        return team.id


@pytest.fixture
def world(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2, open_to_all=False)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": len(GOLD)})
    add_tasks(
        db,
        owner,
        pid,
        [{"data": {"text": k}, "external_id": k, "gold": {"label": "pos"}} for k in GOLD]
        + [{"data": {"text": f"t{i}"}, "external_id": f"t{i}"} for i in range(6)],
    )
    people = {name: add_member(db, owner, Role.annotator, join_projects=False) for name in SECONDS}
    v1 = vendor(
        db, owner, pid, "V1", [people["v1a"], people["v1b"]], price_per_task=0.5, currency="USD"
    )
    v2 = vendor(db, owner, pid, "V2", [people["v2a"]], price_per_hour=36.0, currency="EUR")
    with db.session() as s:
        project_members.add_people(
            s, owner.actor, pid, emails=[people["lab1"].email], role="annotator"
        )
        ids = {t.external_id: t.id for t in _tasks(s, pid)}
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="each",
            slots=[Slot(v1, quota=1), Slot(v2, quota=1)],
            selection=Selection(task_ids=tuple(ids[f"t{i}"] for i in range(4))),
        )
    for name in ("v1a", "v1b", "v2a", "lab1"):
        done = annotate(db, people[name], pid, {k: {"label": v} for k, v in ANSWERS[name].items()})
        assert set(done) == set(ANSWERS[name]), name
    base = utcnow() - timedelta(days=1)
    with db.session() as s:
        for name, seconds in SECONDS.items():
            s.execute(
                update(Assignment)
                .where(Assignment.user_id == people[name].user_id, Assignment.status == "submitted")
                .values(leased_at=base, finished_at=base + timedelta(seconds=seconds))
            )
    with db.session() as s:
        review.decide(s, owner.actor, ids["t0"], decision="accept")
    with db.session() as s:
        review.decide(s, owner.actor, ids["t1"], decision="correct", value={"label": "neg"})
    with db.session() as s:
        review.decide(s, owner.actor, ids["t3"], decision="correct", value={"label": "pos"})
    return owner, pid, people, {"V1": v1, "V2": v2}


def _tasks(s, pid):
    return s.scalars(select(Task).where(Task.project_id == pid)).all()


def rows_by_name(comparison):
    return {r.name: r for r in comparison.rows}


def test_counts_times_gold_and_costs_match_the_hand_computation(db, world):
    owner, pid, _, wf = world
    with db.read_session() as s:
        comparison = compare_workforces(s, owner.actor, [pid])
    assert [p.id for p in comparison.projects] == [pid]
    assert comparison.projects[0].fields == ["label"]
    rows = rows_by_name(comparison)
    assert list(rows) == ["V1", "V2", LAB_NAME]
    v1, v2, lab = rows["V1"], rows["V2"], rows[LAB_NAME]
    assert (v1.workforce_id, v2.workforce_id, lab.workforce_id) == (wf["V1"], wf["V2"], None)
    assert (v1.kind, v2.kind, lab.kind) == ("vendor", "vendor", "lab")
    assert (v1.tasks_done, v2.tasks_done, lab.tasks_done) == (14, 9, 7)
    assert (v1.people, v2.people, lab.people) == (2, 1, 1)
    assert (v1.median_seconds, v2.median_seconds, lab.median_seconds) == pytest.approx((15, 30, 40))
    assert v1.hours == pytest.approx(210 / 3600)
    assert v2.hours == pytest.approx(270 / 3600)
    assert v1.throughput_per_hour == pytest.approx(240)
    assert v2.throughput_per_hour == pytest.approx(120)
    assert lab.throughput_per_hour == pytest.approx(90)
    # gold: 5 answers per person, one field each
    assert (v1.gold_answers, v1.gold_checked, v1.gold_correct) == (10, 10, 9)
    assert (v2.gold_answers, v2.gold_checked, v2.gold_correct) == (5, 5, 3)
    assert (lab.gold_checked, lab.gold_correct) == (5, 5)
    for row, key in ((v1, (9, 10)), (v2, (3, 5)), (lab, (5, 5))):
        assert row.gold_accuracy == pytest.approx(key[0] / key[1])
        assert (row.gold_ci_low, row.gold_ci_high) == pytest.approx(WILSON[key], abs=1e-4)
        assert (row.gold_ci_low, row.gold_ci_high) == pytest.approx(wilson(*key))
    # reviews: V1 t0, t1, t3 accepted; V2 t0, t1 accepted, t3 corrected
    assert (v1.reviewed, v1.accepted, v1.review_acceptance) == (3, 3, 1.0)
    assert (v2.reviewed, v2.accepted) == (3, 2)
    assert v2.review_acceptance == pytest.approx(2 / 3)
    assert (lab.reviewed, lab.review_acceptance) == (0, None)
    # cost: V1 per task, V2 per hour (0.075 h), the lab has no price
    assert (v1.currency, v1.cost) == ("USD", pytest.approx(7.0))
    assert (v2.currency, v2.cost) == ("EUR", pytest.approx(2.7))
    assert lab.cost is None and lab.cost_per_correct is None
    assert v1.cost_per_correct == pytest.approx(7.0 / (14 * 0.9))
    assert v2.cost_per_correct == pytest.approx(2.7 / (9 * 0.6))
    assert v1.cost_per_correct_low == pytest.approx(7.0 / (14 * WILSON[9, 10][1]), rel=1e-3)
    assert v1.cost_per_correct_high == pytest.approx(7.0 / (14 * WILSON[9, 10][0]), rel=1e-3)
    assert any("different currencies" in n for n in comparison.notes)


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_agreement_with_consensus_and_with_each_other_on_shared_tasks(db, world):
    owner, pid, _, wf = world
    with db.read_session() as s:
        rows = rows_by_name(compare_workforces(s, owner.actor, [pid]))
    v1, v2, lab = rows["V1"], rows["V2"], rows[LAB_NAME]
    # clear majorities: g0–g4 pos, t0 pos, t1 neg; t2, t3 are ties, t4, t5 single answers
    assert (v1.consensus_scored, v1.consensus_agreement) == (12, pytest.approx(11 / 12))
    assert (v2.consensus_scored, v2.consensus_agreement) == (7, pytest.approx(5 / 7))
    assert (lab.consensus_scored, lab.consensus_agreement) == (5, 1.0)
    with_v1 = {p.name: p for p in v1.agreement_with}
    # V1 and V2: gold 6 of 10 answer pairs equal, t0–t3 2 of 4
    assert (with_v1["V2"].tasks, with_v1["V2"].agreement) == (9, pytest.approx(8 / 14))
    assert (with_v1[LAB_NAME].tasks, with_v1[LAB_NAME].agreement) == (5, pytest.approx(9 / 10))
    with_v2 = {p.workforce_id: p for p in v2.agreement_with}
    assert with_v2[wf["V1"]].agreement == pytest.approx(8 / 14)
    assert (with_v2[None].tasks, with_v2[None].agreement) == (5, pytest.approx(3 / 5))


def test_dawid_skene_is_the_answer_weighted_mean_of_the_annotators_estimates(db, world):
    owner, pid, people, _ = world
    with db.read_session() as s:
        rows = rows_by_name(compare_workforces(s, owner.actor, [pid]))
        cards = {
            c.user_id: c for c in report_service.project_report(s, owner.actor, pid).scorecards
        }
    v1a, v1b = cards[people["v1a"].user_id], cards[people["v1b"].user_id]
    expected = (v1a.tasks * v1a.ds_accuracy + v1b.tasks * v1b.ds_accuracy) / (v1a.tasks + v1b.tasks)
    assert rows["V1"].ds_accuracy == pytest.approx(expected)
    assert rows["V1"].ds_answers == 14
    assert rows["V2"].ds_accuracy == pytest.approx(cards[people["v2a"].user_id].ds_accuracy)


def test_across_projects_pools_and_a_workforce_without_work_still_shows(db, world):
    owner, pid, _, _ = world
    other = make_project(db, owner, open_to_all=False)
    vendor(db, owner, other, "Idle vendor", [add_member(db, owner, join_projects=False)])
    with db.read_session() as s:
        both = compare_workforces(s, owner.actor, None)
        one = compare_workforces(s, owner.actor, [other])
    assert {p.id for p in both.projects} == {pid, other}
    assert rows_by_name(both)["V1"].tasks_done == 14
    assert [(r.name, r.tasks_done) for r in one.rows] == [("Idle vendor", 0)]
    assert one.notes == ["No workforce has submitted an annotation here yet."]


# -- the API: JSON, CSV, and who may see it ------------------------------------------------------


def test_json_and_csv_routes(app, db, world):
    owner, pid, _, _ = world
    c = login(app, owner)
    body = c.get(f"/api/projects/{pid}/workforces/comparison").json()
    assert [r["name"] for r in body["rows"]] == ["V1", "V2", LAB_NAME]
    assert body["rows"][0]["gold_ci_low"] == pytest.approx(WILSON[9, 10][0], abs=1e-4)
    org = c.get("/api/workforces/comparison", params={"project_id": [pid]}).json()
    assert org["rows"] == body["rows"]
    r = c.get(f"/api/projects/{pid}/workforces/comparison.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    header, lines = table[0], table[1:]
    assert header[:4] == ["workforce_id", "name", "kind", "currency"]
    assert "gold_ci_low" in header and "cost_per_correct" in header
    assert f"agreement_with:{LAB_NAME}" in header
    assert [line[1] for line in lines] == ["V1", "V2", LAB_NAME]
    assert all(len(line) == len(header) for line in lines)
    v1 = dict(zip(header, lines[0], strict=True))
    assert float(v1["tasks_done"]) == 14 and float(v1["cost"]) == pytest.approx(7.0)
    assert v1["agreement_with:V1"] == ""
    assert float(v1["agreement_with:V2"]) == pytest.approx(8 / 14, abs=1e-6)
    assert c.get("/api/workforces/comparison.csv").status_code == 200


def test_csv_neutralises_formulas_in_workforce_names(app, db, world):
    owner, pid, _, wf = world
    with db.session() as s:
        teams.update_team(s, owner.actor, wf["V1"], name='=HYPERLINK("http://x")', description=None)
        teams.update_team(s, owner.actor, wf["V2"], name="@SUM(A1)", description=None)
    c = login(app, owner)
    table = list(
        csv.reader(io.StringIO(c.get(f"/api/projects/{pid}/workforces/comparison.csv").text))
    )
    names = [line[1] for line in table[1:]]
    assert names == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", LAB_NAME]
    assert all(not cell.startswith(("=", "+", "@")) for line in table for cell in line)
    assert all(
        not cell.startswith("-") or cell.lstrip("-")[:1].isdigit()
        for line in table
        for cell in line
    )


def test_nobody_below_manager_and_no_vendor_annotator_sees_a_comparison(app, db, world):
    owner, pid, people, _ = world
    other = make_project(db, owner, open_to_all=False)
    project_manager = add_member(db, owner, Role.annotator, join_projects=False)
    reviewer = add_member(db, owner, Role.annotator, join_projects=False)
    with db.session() as s:
        project_members.add_people(
            s, owner.actor, pid, emails=[project_manager.email], role="manager"
        )
        project_members.add_people(s, owner.actor, pid, emails=[reviewer.email], role="reviewer")
    project_routes = [
        f"/api/projects/{pid}/workforces/comparison",
        f"/api/projects/{pid}/workforces/comparison.csv",
        f"/projects/{pid}/workforces",
    ]
    org_routes = [
        "/api/workforces/comparison",
        "/api/workforces/comparison.csv",
        f"/api/workforces/comparison?project_id={pid}",
    ]
    for who in (people["v1a"], people["v2a"], people["lab1"], reviewer):
        c = login(app, who)
        for url in project_routes + org_routes:
            assert c.get(url).status_code == 403, (who.email, url)
        for url in (
            f"/api/projects/{other}/workforces/comparison",
            f"/projects/{other}/workforces",
        ):
            assert c.get(url).status_code == 404, (who.email, url)
    pm = login(app, project_manager)
    for url in project_routes:
        assert pm.get(url).status_code == 200, url
    for url in org_routes:
        assert pm.get(url).status_code == 403, url


# -- the page ------------------------------------------------------------------------------------


def test_page_renders_table_chart_data_and_escapes_names(app, db, world):
    owner, pid, _, wf = world
    evil = "<script>alert('vendor')</script>"
    with db.session() as s:
        teams.update_team(s, owner.actor, wf["V2"], name=evil, description=None)
    c = login(app, owner)
    r = c.get(f"/projects/{pid}/workforces")
    assert r.status_code == 200, r.text
    html = r.text
    assert evil not in html
    assert "&lt;script&gt;alert(" in html  # in the table
    assert "\\u003cscript\\u003e" in html  # in the chart's JSON
    assert 'src="/static/js/workforce-chart.js"' in html
    assert f'href="/api/projects/{pid}/workforces/comparison.csv"' in html
    assert "V1" in html and LAB_NAME in html
    quality = c.get(f"/projects/{pid}/quality").text
    assert f'href="/projects/{pid}/workforces"' in quality
