// The annotate page's progress counter: the query asking for it (today = local midnight)
// and how the counts read.
import assert from "node:assert/strict";
import { test } from "node:test";

import { progressParts, progressQuery } from "../../src/labelhouse/web/static/js/annotate/progress.js";

test("today starts at this browser's local midnight", () => {
  const now = new Date(2026, 11, 5, 15, 42, 7); // 5 Dec 2026, 15:42 local time
  const query = new URLSearchParams(progressQuery(now));
  assert.equal(query.get("progress"), "1");
  const start = new Date(query.get("day_start"));
  assert.equal(start.getTime(), new Date(2026, 11, 5).getTime());
  assert.match(query.get("day_start"), /Z$/); // sent as UTC, the offset applied
  // just after midnight it is still the same day
  const early = new URLSearchParams(progressQuery(new Date(2026, 11, 5, 0, 0, 1)));
  assert.equal(new Date(early.get("day_start")).getTime(), start.getTime());
});

test("the counts read as figures, a capped remainder with a plus", () => {
  assert.deepEqual(progressParts({ done_today: 3, done: 1234, remaining: 7, remaining_capped: false }), [
    ["Today", "3"], ["In this project", "1,234"], ["Left for you", "7"],
  ]);
  assert.deepEqual(progressParts({ done_today: 0, done: 0, remaining: 1001, remaining_capped: true })[2], ["Left for you", "1,001+"]);
});
