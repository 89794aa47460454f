"""OpenAI-compatible predictions with class probabilities from the answer's token
log-probabilities, over the real app and the fake model server: stored as
``prediction.scores``, so an entropy- or margin-ordered queue serves the most doubtful task
first; a server that refuses or ignores ``logprobs`` still gives predictions (no scores)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelhouse.tasks.models import Prediction, Task
from tests.factories import add_tasks, login, make_project
from tests.models_loop.fake_model import FakeModel
from tests.models_loop.test_models_api import _allow, _endpoint


def _label_tokens(label: str, p: float, alternatives: list[list[Any]]) -> list[Any]:
    return [
        ['{"', 1.0, []],
        ["label", 1.0, []],
        ['":', 1.0, []],
        [' "', 1.0, []],
        [label, p, alternatives],
        ['"}', 1.0, []],
    ]


def _stored(db: Any, pid: int) -> dict[str, Any]:
    with db.read_session() as s:
        rows = s.execute(
            select(Task.external_id, Prediction.scores, Task.uncertainty_margin)
            .join(Prediction, Prediction.task_id == Task.id)
            .where(Task.project_id == pid)
        ).all()
    return {r.external_id: (r.scores, r.uncertainty_margin) for r in rows}


def test_logprobs_become_scores_that_order_the_queue(app, db, owner, model_server: FakeModel):
    sure, torn = "logprobs: a sure one", "logprobs: a torn one"
    model_server.scripts[sure] = _label_tokens("pos", 0.9, [["neg", 0.05], ["Neu", 0.05]])
    model_server.scripts[torn] = _label_tokens("neg", 0.45, [[" Pos", 0.4], ["ne", 0.15]])
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": sure, "external_id": "sure"},
                               {"text": torn, "external_id": "torn"},
                               {"text": "item 1", "external_id": "default"}])  # fmt: skip
    c = login(app, owner)
    assert c.patch(f"/api/projects/{pid}", json={"queue_order": "margin"}).status_code == 200
    _endpoint(c, model_server, name="probs")
    _allow(c, "probs", pid, ["text"])
    before = len(model_server.log)

    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "probs"}).json()

    assert out["stored"] == 3, out
    sent = model_server.log[before:]
    assert {(x.body["logprobs"], x.body["top_logprobs"]) for x in sent} == {(True, 5)}
    stored = _stored(db, pid)
    assert stored["sure"][0]["label"] == pytest.approx({"pos": 0.9, "neg": 0.05, "neu": 0.05})
    # "ne" fits neg and neu: refused; the rest is normalised over what is named.
    torn_scores = stored["torn"][0]["label"]
    assert torn_scores == {
        "pos": pytest.approx(0.4 / 0.85),
        "neg": pytest.approx(0.45 / 0.85),
        "neu": 0.0,
    }
    assert stored["default"][0]["label"] == {
        "pos": pytest.approx(0.7 / 0.95),
        "neg": pytest.approx(0.2 / 0.95),
        "neu": pytest.approx(0.05 / 0.95),
    }
    margins = {k: m for k, (_, m) in stored.items()}
    assert margins["torn"] > margins["default"] > margins["sure"]
    # The margin-ordered queue serves the most doubtful task first.
    first = c.post(f"/api/projects/{pid}/next").json()
    assert first["task"]["data"]["text"] == torn


@pytest.mark.parametrize("model", ["nologprobs-1", "plain-1"])
def test_without_logprobs_predictions_still_come_without_scores(
    app, db, owner, model_server: FakeModel, model
):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": f"{model} {i}", "external_id": f"n{i}"} for i in range(3)])
    c = login(app, owner)
    _endpoint(c, model_server, name=model, model=model)
    _allow(c, model, pid, ["text"])
    before = len(model_server.log)

    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": model}).json()

    assert (out["stored"], out["failed"]) == (3, 0), out
    assert {(s, m) for s, m in _stored(db, pid).values()} == {(None, None)}
    sent = model_server.log[before:]
    asked = [x for x in sent if x.body.get("logprobs")]
    if model.startswith("nologprobs"):
        # Refused once (400), asked again without, and not asked for them again in the run.
        assert len(sent) == 4 and len(asked) == 1
        assert out["statuses"] == {"200": 3}
    else:
        assert len(sent) == 3 and len(asked) == 3


def test_a_generic_endpoint_gives_scores_through_its_mapping(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": "item 1", "external_id": "good"},
                               {"text": "item badprobs", "external_id": "bad"}])  # fmt: skip
    c = login(app, owner)
    r = c.post(
        "/api/model-endpoints",
        json={"name": "gs", "kind": "http", "url": f"{model_server.url}/generic",
              "mapping": {"predictions": {"label": "result.label"}, "scores": "result.probs"}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _allow(c, "gs", pid, ["text"])

    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "gs"}).json()

    assert (out["stored"], out["failed"]) == (1, 1), out
    assert "scores.label.neg must be a probability from 0 to 1" in out["failures"][0]["error"]
    stored = _stored(db, pid)
    assert stored["good"][0] == {"label": {"neg": 0.6, "pos": 0.4}}
    assert stored["good"][1] == pytest.approx(0.8)  # margin 1 - (0.6 - 0.4)
