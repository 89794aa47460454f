"""The provenance helper on its own (pure): pseudonyms are stable inside one export, differ
between exports, and are reproducible with a given salt; the pre-filled prediction is the
one the annotate page shows."""

from __future__ import annotations

from labelhouse.exports.formats.provenance import Provenance, shown_prediction
from labelhouse.exports.formats.values import Answer


def record(predictions):
    return {
        "id": 1,
        "annotations": [{"schema_version": 2}, {"schema_version": 3}],
        "predictions": predictions,
        "review": {"decision": "accept"},
    }


def test_pseudonyms_are_stable_in_an_export_and_new_in_the_next():
    one, two = Provenance(["f"]), Provenance(["f"])
    assert one.annotator(5) == one.annotator(5) != one.annotator(6)
    assert one.annotator(5) != two.annotator(5)
    salted = [Provenance(["f"], salt=b"snapshot-7").annotator(5) for _ in range(2)]
    assert salted[0] == salted[1] and salted[0].startswith("a-")
    assert Provenance(["f"], annotators="ids").annotator(5) == "5"


def test_the_shown_prediction_is_the_highest_scoring_first_of_equals():
    a, b, c = {"score": None}, {"score": 0.5}, {"score": 0.5, "n": 2}
    assert shown_prediction([a, b, c]) is b
    assert shown_prediction([a]) is a
    assert shown_prediction([]) is None


def test_merged_rows_take_the_tasks_latest_version_and_review_decision():
    prov = Provenance(["f", "g"], level="full")
    out = prov.of(
        record([{"value": {"f": 1}, "model_version": "m", "score": 1}]),
        Answer(value={"f": 1, "g": 2}, confidence={"f": 0.5, "g": 1.0}, method="majority"),
    )
    assert out["schema_version"] == 3 and out["review_status"] == "accept"
    assert out["kept"] == {"f": True, "g": None} and out["pre_annotated"] is True
    assert out["confidence"] == {"f": 0.5, "g": 1.0} and out["consensus_method"] == "majority"
    assert out["annotator"] is None and out["model_version"] == "m"
    assert Provenance(["f"], level="none").of(record([]), Answer(value={})) is None
