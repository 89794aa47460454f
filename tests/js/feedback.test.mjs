// Pure parts of the comments and review-feedback modules, run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { groupThreads } from "../../src/labelhouse/web/static/js/comments.js";
import { valueText } from "../../src/labelhouse/web/static/js/annotate/feedback.js";

test("threads: writable ones first in their order, then others the comments name", () => {
  const threads = [{ user_id: 7, label: "ann@x" }, { user_id: null, label: "Lab notes" }];
  const items = [
    { id: 1, thread: 9 }, // a thread the viewer may read but no longer write in
    { id: 2, thread: 7 },
    { id: 3, thread: null },
    { id: 4, thread: 7 },
  ];
  const groups = groupThreads(items, threads);
  assert.deepEqual(groups.map((g) => [g.key, g.writable, g.items.map((c) => c.id)]), [
    [7, true, [2, 4]],
    [null, true, [3]],
    [9, false, [1]],
  ]);
  assert.equal(groups[2].label, null);
  assert.deepEqual(groupThreads([], []), []);
});

test("values as short text", () => {
  assert.equal(valueText(null), "—");
  assert.equal(valueText(""), "—");
  assert.equal(valueText("pos"), "pos");
  assert.equal(valueText(4), "4");
  assert.equal(valueText(false), "false");
  assert.equal(valueText(["a", "b"]), "a, b");
  assert.equal(valueText([{ start: 0, end: 3 }]), '[{"start":0,"end":3}]');
});
