// Pure parts of the annotate page controller, run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clearDraft, draftKey, loadDraft, pruneDrafts, saveDraft } from "../../src/labelhouse/web/static/js/annotate/drafts.js";
import { groupProblems, isTransient } from "../../src/labelhouse/web/static/js/annotate/problems.js";
import { UndoStack } from "../../src/labelhouse/web/static/js/annotate/undo.js";

class FakeStorage {
  constructor() { this.map = new Map(); }
  get length() { return this.map.size; }
  key(i) { return [...this.map.keys()][i] ?? null; }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

test("undo: steps, redo, and typing bursts merged", () => {
  const u = new UndoStack();
  u.record("a", null, "x", { now: 0 });
  u.record("t", null, "h", { coalesce: true, now: 10 });
  u.record("t", "h", "he", { coalesce: true, now: 500 });
  u.record("t", "he", "hey", { coalesce: true, now: 1600 }); // a pause: a new step
  assert.deepEqual(u.undo(), { field: "t", before: "he", after: "hey", time: 1600, coalesce: true });
  assert.equal(u.undo().before, null); // "h" and "he" were one step
  assert.equal(u.redo().after, "he");
  u.record("a", "x", "y", { now: 2000 }); // a new change drops the redo stack
  assert.equal(u.redo(), null);
  assert.equal(u.undo().after, "y");
  assert.equal(u.undo().after, "he");
  assert.equal(u.undo().after, "x");
  assert.equal(u.undo(), null);
  assert.equal(u.canUndo, false);
});

test("undo: recorded values are copies", () => {
  const u = new UndoStack();
  const value = ["a"];
  u.record("f", null, value);
  value.push("b");
  assert.deepEqual(u.undo().after, ["a"]);
});

test("drafts: saved per user and task, cleared, pruned when old", () => {
  const s = new FakeStorage();
  assert.equal(saveDraft(s, 1, 9, { a: 1 }, 1000), true);
  assert.deepEqual(loadDraft(s, 1, 9), { values: { a: 1 }, savedAt: 1000 });
  assert.equal(loadDraft(s, 2, 9), null);
  saveDraft(s, 1, 10, { b: 2 }, 20 * 24 * 3600 * 1000);
  saveDraft(s, 2, 11, { c: 3 }, 0);
  s.setItem(draftKey(1, 12), "not json");
  assert.equal(pruneDrafts(s, 1, 40 * 24 * 3600 * 1000), 2); // task 9 and the broken one
  assert.deepEqual([...s.map.keys()].sort(), [draftKey(1, 10), draftKey(2, 11)].sort());
  clearDraft(s, 1, 10);
  assert.equal(loadDraft(s, 1, 10), null);
  const full = { setItem() { throw new Error("QuotaExceededError"); } };
  assert.equal(saveDraft(full, 1, 1, {}), false);
});

test("problems: 422 details land on their field", () => {
  const { byField, general } = groupProblems(
    [
      { field: "note", problem: "too long" },
      { field: "entities[0].end", problem: "past the end" },
      { field: "preference.choice", problem: "bad" },
      { field: "label", problem: "required" },
      { field: "value", problem: "expected an object" },
      { field: "other", problem: "unknown field" },
    ],
    ["note", "entities", "preference", "label"],
  );
  assert.deepEqual(Object.fromEntries(byField), {
    note: ["too long"],
    entities: ["[0].end: past the end"],
    preference: ["choice: bad"],
    label: ["Required: answer this before submitting."],
  });
  assert.deepEqual(general, ["value: expected an object", "other: unknown field"]);
});

test("problems: which failures are retried by themselves", () => {
  assert.equal(isTransient(new TypeError("Failed to fetch")), true);
  assert.equal(isTransient({ status: 503 }), true);
  assert.equal(isTransient({ status: 422 }), false);
  assert.equal(isTransient({ status: 409 }), false);
});

test("initial values: draft, then my annotation, then the best prediction", async () => {
  const { initialValues } = await import("../../src/labelhouse/web/static/js/annotate/initial.js");
  const task = {
    annotations: [{ annotator_id: 2, value: { a: "theirs" }, status: "submitted" }],
    predictions: [{ value: { a: "low" }, score: 0.2 }, { value: { a: "high" }, score: 0.9 }, { value: { a: "none" }, score: null }],
  };
  assert.deepEqual(initialValues(task, 1, null).values, { a: "high" });
  assert.equal(initialValues(task, 1, null).source, "prediction");
  assert.equal(initialValues(task, 2, null).source, "own");
  assert.deepEqual(initialValues(task, 2, { values: { a: "draft" } }).values, { a: "draft" });
  const drafted = { annotations: [{ annotator_id: 1, value: { a: 1 }, status: "draft" }] };
  assert.equal(initialValues(drafted, 1, null).source, "server-draft");
  assert.equal(initialValues({}, 1, null).source, "empty");
});
