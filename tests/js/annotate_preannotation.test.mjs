// The pre-annotation badge's logic (issue 13 item 9c): which pre-filled fields the
// annotator changed, compared with what the widget showed.
import assert from "node:assert/strict";
import { test } from "node:test";

import { editsSentence, preAnnotationState } from "../../src/labelhouse/web/static/js/annotate/preannotation.js";

test("a field is kept while its value equals the pre-annotation as shown", () => {
  const shown = { label: "pos", tags: ["a", "b"], boxes: [{ x: 1, y: 2, width: 3, height: 4, label: "cat" }] };
  assert.deepEqual(preAnnotationState(shown, structuredClone(shown)), { kept: ["label", "tags", "boxes"], edited: [] });
  // key order inside objects does not matter; list order does
  const reordered = { ...shown, boxes: [{ label: "cat", height: 4, width: 3, y: 2, x: 1 }] };
  assert.deepEqual(preAnnotationState(shown, reordered).edited, []);
  assert.deepEqual(preAnnotationState(shown, { ...shown, tags: ["b", "a"] }).edited, ["tags"]);
});

test("changing, clearing and changing back", () => {
  const shown = { label: "pos", note: "from the model" };
  assert.deepEqual(preAnnotationState(shown, { label: "neg", note: "from the model" }), { kept: ["note"], edited: ["label"] });
  assert.deepEqual(preAnnotationState(shown, { label: null, note: "from the model" }).edited, ["label"]);
  assert.deepEqual(preAnnotationState(shown, { note: "from the model" }).edited, ["label"]); // missing = cleared
  assert.deepEqual(preAnnotationState(shown, { label: "pos", note: "from the model" }).edited, []);
  // fields the model did not fill are not pre-annotations
  assert.deepEqual(preAnnotationState({ label: "pos" }, { label: "pos", other: 3 }), { kept: ["label"], edited: [] });
});

test("the banner counts the changed fields", () => {
  assert.equal(editsSentence({ kept: ["a", "b"], edited: [] }), "");
  assert.equal(editsSentence({ kept: [], edited: ["a"] }), " You changed it.");
  assert.equal(editsSentence({ kept: ["b"], edited: ["a"] }), " You changed 1 of the 2 pre-filled fields.");
});
