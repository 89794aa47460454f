"""The quality report on real databases: numbers checked against the pure statistics and
hand-computed values, consensus per task, scorecards, preference checks, access rules."""

from __future__ import annotations

import pytest

from labelhouse import quality
from labelhouse.accounts.models import Role
from labelhouse.kinds.registry import parse_schema
from labelhouse.quality_report import service
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

CHOICES = {
    #     annotator 1, 2, 3
    "t0": ("pos", "pos", "pos"),
    "t1": ("pos", "pos", "neg"),
    "t2": ("neg", "neg", "neg"),
    "t3": ("neu", "neg", "neu"),
    "t4": ("pos", "neg", "neu"),
    "t5": ("neg", "neg", "pos"),
}


@pytest.fixture
def choice_project(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, [{"text": f"item {k}", "external_id": k} for k in CHOICES])
    members = [add_member(db, owner) for _ in range(3)]
    ids: dict[str, int] = {}
    for n, (member, seconds) in enumerate(zip(members, (6.0, 8.0, 0.5), strict=True)):
        ids |= annotate(
            db, member, pid, {k: {"label": v[n]} for k, v in CHOICES.items()}, seconds=seconds
        )
    return owner, pid, members, ids


def _records(members):
    return [(k, members[n].actor.user_id, v[n]) for k, v in CHOICES.items() for n in range(3)]


def test_choice_field_agreement_matches_pure_functions_and_hand_values(db, choice_project):
    owner, pid, members, _ = choice_project
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    assert (report.tasks, report.annotations, report.annotators) == (6, 18, 3)
    (field,) = report.fields
    labels = quality.Labels.from_records(_records(members), classes=["pos", "neg", "neu"])
    m = field.metrics
    # by hand: per-task pair agreement 1, 1/3, 1, 1/3, 0, 1/3 → 0.5; chance 122/324
    assert m["percent_agreement"] == pytest.approx(0.5)
    assert field.agreement == pytest.approx(0.5)
    assert m["fleiss_kappa"] == pytest.approx((0.5 - 122 / 324) / (1 - 122 / 324))
    assert m["fleiss_kappa"] == pytest.approx(quality.fleiss_kappa(labels))
    assert m["alpha_nominal"] == pytest.approx(quality.krippendorff_alpha(labels))
    pk = quality.pairwise_kappa_matrix(labels).kappa
    pairs = [pk[0, 1], pk[0, 2], pk[1, 2]]
    assert m["pair_kappa_mean"] == pytest.approx(sum(pairs) / 3)
    assert m["pair_kappa_min"] == pytest.approx(min(pairs))
    assert (field.tasks, field.overlapping_tasks, field.answers) == (6, 6, 18)


def test_majority_and_dawid_skene_consensus_per_task(db, choice_project):
    owner, pid, members, ids = choice_project
    with db.read_session() as s:
        rows = service.consensus_page(s, owner.actor, pid, method="majority")
        ds_rows = service.consensus_page(s, owner.actor, pid, method="dawid_skene")
    by_task = {r.task_id: r.fields["label"] for r in rows}
    assert by_task[ids["t1"]] == {
        "value": "pos",
        "confidence": pytest.approx(2 / 3),
        "method": "majority",
    }
    # a three-way tie goes to the first option, as in quality.majority_vote
    assert by_task[ids["t4"]]["value"] == "pos"
    assert by_task[ids["t4"]]["confidence"] == pytest.approx(1 / 3)
    labels = quality.Labels.from_records(_records(members), classes=["pos", "neg", "neu"])
    ds = quality.dawid_skene(labels)
    expected = {
        ids[k]: (["pos", "neg", "neu"][ds.labels[i]], ds.confidence[i])
        for i, k in enumerate(labels.item_ids)
    }
    for r in ds_rows:
        c = r.fields["label"]
        assert (c["value"], c["method"]) == (expected[r.task_id][0], "dawid_skene")
        assert c["confidence"] == pytest.approx(expected[r.task_id][1])
    # pagination by task id
    with db.read_session() as s:
        first = service.consensus_page(s, owner.actor, pid, limit=4)
        rest = service.consensus_page(s, owner.actor, pid, after_id=first[-1].task_id, limit=4)
    assert [r.task_id for r in first + rest] == sorted(ids.values())


def test_scorecards_hotspots_and_flags(db, choice_project):
    owner, pid, members, ids = choice_project
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    cards = {c.user_id: c for c in report.scorecards}
    fast = cards[members[2].actor.user_id]
    assert fast.median_seconds == pytest.approx(0.5)
    assert "too fast" in fast.flags
    assert cards[members[0].actor.user_id].median_seconds == pytest.approx(6.0)
    assert "too fast" not in cards[members[0].actor.user_id].flags
    # agreement with the majority consensus (pos, pos, neg, neu, pos, neg)
    consensus = ["pos", "pos", "neg", "neu", "pos", "neg"]
    for n, member in enumerate(members):
        mine = [v[n] for v in CHOICES.values()]
        expected = sum(a == b for a, b in zip(mine, consensus, strict=True)) / 6
        assert cards[member.actor.user_id].consensus_agreement == pytest.approx(expected)
        assert cards[member.actor.user_id].tasks == 6
    assert "low agreement" in fast.flags  # 2 of 6
    labels = quality.Labels.from_records(_records(members), classes=["pos", "neg", "neu"])
    ds = quality.dawid_skene(labels)
    for w, uid in enumerate(labels.worker_ids):
        assert cards[uid].ds_accuracy == pytest.approx(ds.worker_accuracy[w])
        assert cards[uid].confusion["label"]["classes"] == ["pos", "neg", "neu"]
    # hot spots: lowest agreement first (t4: nobody agrees), ties by task id
    assert [h.task_id for h in report.hotspots[:4]] == [ids["t4"], ids["t1"], ids["t3"], ids["t5"]]
    assert report.hotspots[0].agreement == 0.0
    assert report.hotspots[0].external_id == "t4"


RATING_SCHEMA = {
    "fields": [
        {"name": "score", "kind": "rating", "min": 1, "max": 5},
        {
            "name": "tags",
            "kind": "choices",
            "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
        },
        {"name": "ents", "kind": "spans", "labels": [{"value": "PER"}, {"value": "ORG"}]},
        {"name": "note", "kind": "text", "required": False, "similarity": "token_f1"},
    ]
}


def test_rating_set_spans_and_text_fields(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=RATING_SCHEMA, overlap=2)
    add_tasks(
        db, owner, pid, [{"text": "Ada met Bob at IBM", "external_id": f"r{i}"} for i in range(3)]
    )
    a, b = add_member(db, owner), add_member(db, owner)
    per = "PER"
    ann = {
        "r0": (
            {
                "score": 5,
                "tags": ["a", "b"],
                "ents": [{"start": 0, "end": 3, "label": per}],
                "note": "fine text",
            },
            {
                "score": 4,
                "tags": ["a"],
                "ents": [{"start": 0, "end": 3, "label": per}],
                "note": "fine text",
            },
        ),
        "r1": (
            {"score": 1, "tags": ["c"], "ents": [{"start": 8, "end": 11, "label": per}]},
            {"score": 1, "tags": ["c"], "ents": [{"start": 8, "end": 10, "label": per}]},
        ),
        "r2": (
            {"score": 2, "tags": ["a"], "ents": []},
            {"score": 5, "tags": ["b"], "ents": [{"start": 15, "end": 18, "label": "ORG"}]},
        ),
    }
    annotate(db, a, pid, {k: v[0] for k, v in ann.items()})
    annotate(db, b, pid, {k: v[1] for k, v in ann.items()})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
        rows = service.consensus_page(s, owner.actor, pid)
    f = {x.name: x for x in report.fields}
    labels = quality.Labels.from_records(
        [(k, u, v[i]["score"]) for k, v in ann.items() for i, u in enumerate("ab")],
        classes=[1, 2, 3, 4, 5],
    )
    assert f["score"].metrics["alpha_interval"] == pytest.approx(
        quality.krippendorff_alpha(labels, "interval")
    )
    assert f["score"].metrics["alpha_ordinal"] == pytest.approx(
        quality.krippendorff_alpha(labels, "ordinal")
    )
    assert f["score"].metrics["percent_agreement"] == pytest.approx(1 / 3)
    assert f["score"].consensus_method == "median"
    # choices: Jaccard 1/2, 1, 0; exact-set agreement 1/3
    assert f["tags"].metrics["mean_pairwise_agreement"] == pytest.approx(0.5)
    assert f["tags"].metrics["percent_agreement"] == pytest.approx(1 / 3)
    # spans: exact matches 1 of (2+2+1) spans → 2·1/5; overlap matches 2 → 4/5
    assert f["ents"].metrics["span_f1_exact"] == pytest.approx(2 / 5)
    assert f["ents"].metrics["span_f1_overlap"] == pytest.approx(4 / 5)
    assert f["note"].metrics["mean_similarity"] == pytest.approx(1.0)
    first = rows[0].fields
    assert first["score"] == {"value": 4, "confidence": 0.5, "method": "median"}
    assert first["tags"]["value"] == ["a", "b"]  # "b" has half the votes: kept
    assert first["ents"]["value"] == [{"start": 0, "end": 3, "label": "PER", "text": "Ada"}]
    assert "note" not in first  # free text has no consensus


def _pair_rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"p{i}",
            "prompt": f"question {i}",
            "responses": [
                {"text": "short", "model": "alpha"},
                {"text": "a much longer answer " * 3, "model": "beta"},
            ],
        }
        for i in range(n)
    ]


def test_pairwise_bradley_terry_and_position_bias(db):
    schema = parse_schema({"fields": [{"name": "pref", "kind": "pairwise"}]})
    kind = schema.field("pref")
    owner = make_org(db)
    pid = make_project(
        db, owner, schema={"fields": [{"name": "pref", "kind": "pairwise"}]}, overlap=2
    )
    add_tasks(db, owner, pid, _pair_rows(24))
    careful, clicker = add_member(db, owner), add_member(db, owner)

    def left_side(task):  # always the response drawn on the left
        left = kind.display_order(task.id, 2)[0]
        return {"pref": {"choice": "AB"[left], "strength": None}}

    annotate(
        db, careful, pid, {f"p{i}": {"pref": {"choice": "B", "strength": None}} for i in range(24)}
    )
    annotate(db, clicker, pid, {f"p{i}": left_side for i in range(24)})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    (pref,) = report.preferences
    assert pref.items_are == "model"
    assert [x.item for x in pref.scores] == ["beta", "alpha"]
    assert pref.scores[0].ci_low < pref.scores[0].score < pref.scores[0].ci_high
    assert pref.n_judgments == 48
    clicker_stats = pref.per_annotator[clicker.actor.user_id]
    assert clicker_stats["first_shown_share"] == 1.0
    assert clicker_stats["position_p_value"] == pytest.approx(2 * 0.5**24)
    careful_share = pref.per_annotator[careful.actor.user_id]["first_shown_share"]
    assert pref.position_bias.n == 48
    assert pref.position_bias.effect == pytest.approx((24 + careful_share * 24) / 48)
    assert pref.length_bias is not None and pref.length_bias.n == 48
    assert pref.per_annotator[careful.actor.user_id]["bt_agreement"] == 1.0


def test_ranking_transitivity_across_tasks(db):
    schema = {"fields": [{"name": "rank", "kind": "ranking"}]}
    owner = make_org(db)
    pid = make_project(db, owner, schema=schema, overlap=1)
    models = ["x", "y", "z"]
    rows = [
        {
            "external_id": f"k{i}",
            "prompt": "which?",
            "responses": [{"text": f"{m} says", "model": m} for m in pair],
        }
        for i, pair in enumerate([("x", "y"), ("y", "z"), ("z", "x")])
    ]
    add_tasks(db, owner, pid, rows)
    a = add_member(db, owner)
    annotate(db, a, pid, {f"k{i}": {"rank": [1, 2]} for i in range(3)})  # x>y, y>z, z>x
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    (rank,) = report.preferences
    assert (rank.cyclic_triads, rank.triads) == (1, 1)
    assert sorted(x.item for x in rank.scores) == models
    # rankings have their own position check: first listed ranked best vs chance 1/k
    assert rank.position_bias is not None
    assert (rank.position_bias.n, rank.position_bias.expected) == (3, 0.5)


def test_empty_project_and_bad_method(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
        assert (report.tasks, report.hotspots, report.scorecards) == (0, [], [])
        assert report.fields[0].agreement is None
        with pytest.raises(Exception, match="Unknown consensus method"):
            service.project_report(s, owner.actor, pid, method="vote")


def test_api_access_rules_and_shape(app, db, choice_project):
    owner, pid, members, ids = choice_project
    reviewer = add_member(db, owner, Role.reviewer)
    c = login(app, reviewer)
    r = c.get(f"/api/projects/{pid}/quality")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fields"][0]["metrics"]["percent_agreement"] == pytest.approx(0.5)
    assert {s["email"] for s in body["scorecards"]} == {m.email for m in members}
    assert body["hotspots"][0]["task_id"] == ids["t4"]
    r = c.get(f"/api/projects/{pid}/consensus", params={"method": "dawid_skene", "limit": 5})
    assert r.status_code == 200
    page = r.json()
    assert len(page["items"]) == 5 and page["next_cursor"] == page["items"][-1]["task_id"]
    r = c.get(f"/api/projects/{pid}/consensus", params={"cursor": page["next_cursor"]})
    assert [i["task_id"] for i in r.json()["items"]] == [ids["t5"]]
    assert r.json()["next_cursor"] is None
    bad = c.get(f"/api/projects/{pid}/quality", params={"method": "vote"})
    assert bad.status_code == 422 and "dawid_skene" in bad.text
    # an annotator may not see the report; another organization cannot even see the project
    assert login(app, members[0]).get(f"/api/projects/{pid}/quality").status_code == 403
    assert login(app, members[0]).get(f"/api/projects/{pid}/consensus").status_code == 403
    stranger = make_org(db, "Other")
    assert login(app, stranger).get(f"/api/projects/{pid}/quality").status_code == 404
    assert login(app, stranger).get(f"/api/projects/{pid}/consensus").status_code == 404
