// The skip confirmation's logic (issue 13 item 9b): what a skip sends, when a note is
// needed, which key picks which reason.
import assert from "node:assert/strict";
import { test } from "node:test";

import { needsNote, reasonForKey, skipBody } from "../../src/labelhouse/web/static/js/annotate/skip.js";

test("a skip sends the chosen reason and the note, trimmed, leaving out empty parts", () => {
  assert.deepEqual(skipBody("Unclear instructions", ""), { body: { reason: "Unclear instructions" } });
  assert.deepEqual(skipBody("", "  my words "), { body: { note: "my words" } });
  assert.deepEqual(skipBody(null, undefined), { body: {} });
  assert.deepEqual(skipBody("Broken media/data", "image 404"), { body: { reason: "Broken media/data", note: "image 404" } });
});

test("a reason ending in (write it) needs a note", () => {
  assert.ok(needsNote("Other (write it)"));
  assert.ok(needsNote("  Needs an expert (Write it) "));
  assert.ok(!needsNote("Write it down later"));
  assert.ok(!needsNote(""));
  assert.deepEqual(skipBody("Other (write it)", "   "), {
    problem: "“Other (write it)” needs a few words: write why you skip this task.",
  });
  assert.deepEqual(skipBody("Other (write it)", "sarcasm"), { body: { reason: "Other (write it)", note: "sarcasm" } });
});

test("keys 1–9 pick the reasons there are", () => {
  assert.equal(reasonForKey("1", 4), 0);
  assert.equal(reasonForKey("4", 4), 3);
  assert.equal(reasonForKey("5", 4), -1);
  assert.equal(reasonForKey("0", 12), -1);
  assert.equal(reasonForKey("9", 12), 8);
  assert.equal(reasonForKey("a", 4), -1);
  assert.equal(reasonForKey("1", 0), -1);
});
