"""The quality report over an edit field on a real database: the mean pairwise word
similarity of the rewritten replies, and the medoid rewrite as each task's consensus."""

from __future__ import annotations

import pytest

from labelhouse.kinds.edit import similarity
from labelhouse.quality_report import service
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {"fields": [{"name": "fix", "kind": "edit", "source": "chat", "message": -1}]}
CHAT = [
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Lyon."},
]
REWRITES = (
    "The capital of France is Paris.",
    "Paris is the capital of France.",
    "The capital of France is Paris, on the Seine.",
)


def test_edit_agreement_is_similarity_and_consensus_the_medoid(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=3)
    add_tasks(db, owner, pid, [{"chat": CHAT, "external_id": "t0"}])
    for member, text in zip([add_member(db, owner) for _ in range(3)], REWRITES, strict=True):
        annotate(db, member, pid, {"t0": {"fix": {"text": text}}})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
        rows = service.consensus_page(s, owner.actor, pid)
    [field] = report.fields
    assert field.agreement_kind == "edit"
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(similarity(REWRITES[i], REWRITES[j]) for i, j in pairs) / 3
    assert field.metrics["mean_pairwise_agreement"] == pytest.approx(expected)
    consensus = rows[0].fields["fix"]
    assert consensus["value"]["text"] == REWRITES[0]  # closest to the two others
    assert consensus["value"]["changed"] is True
    assert consensus["method"] == "merge"
