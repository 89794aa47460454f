// The pure side of the widgets' display mode: comparing answers, the most common answer,
// list and word diffs, and each kind's description of what changed between revisions.
// Run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  canonical, clip, diffList, differingFields, itemsNotIn, majorityByField, sameValue, tokenize, wordDiff,
} from "../../src/labelhouse/web/static/js/widgets/lib/diff.js";
import { optionStyle } from "../../src/labelhouse/web/static/js/widgets/lib/display.js";
import { overlapRatio } from "../../src/labelhouse/web/static/js/widgets/lib/geometry.js";
import * as boxes from "../../src/labelhouse/web/static/js/widgets/boxes.js";
import * as choice from "../../src/labelhouse/web/static/js/widgets/choice.js";
import * as choices from "../../src/labelhouse/web/static/js/widgets/choices.js";
import * as pairwise from "../../src/labelhouse/web/static/js/widgets/pairwise.js";
import * as ranking from "../../src/labelhouse/web/static/js/widgets/ranking.js";
import * as rating from "../../src/labelhouse/web/static/js/widgets/rating.js";
import * as rubric from "../../src/labelhouse/web/static/js/widgets/rubric.js";
import * as spans from "../../src/labelhouse/web/static/js/widgets/spans.js";
import * as text from "../../src/labelhouse/web/static/js/widgets/text.js";

const KINDS = { boxes, choice, choices, pairwise, ranking, rating, rubric, spans, text };
const items = (diff) => diff.items.map((c) => `${c.op} ${c.text}`);

test("every widget module has a display mode and describes changes", () => {
  for (const [kind, module] of Object.entries(KINDS)) {
    assert.equal(typeof module.mount, "function", kind);
    assert.equal(typeof module.display, "function", kind);
    assert.equal(typeof module.changes, "function", kind);
  }
});

test("canonical JSON: equal values whatever the key order", () => {
  assert.equal(canonical({ b: 1, a: [2, { d: null, c: "x" }] }), '{"a":[2,{"c":"x","d":null}],"b":1}');
  assert.ok(sameValue({ choice: "A", strength: null }, { strength: null, choice: "A" }));
  assert.ok(!sameValue([1, 2], [2, 1]));
  assert.ok(sameValue(undefined, null)); // an unanswered field is null either way
});

test("majority per field: the most common value, ties to the first, missing as null", () => {
  const answers = [
    { label: "pos", tags: ["a", "b"] },
    { label: "neg", tags: ["a", "b"] },
    { label: "neg" },
    { label: "pos", tags: null },
  ];
  assert.deepEqual(majorityByField(["label", "tags"], answers), { label: "pos", tags: ["a", "b"] });
  assert.deepEqual(majorityByField(["label", "note"], [{ label: "x" }, { label: "y", note: "n" }, { label: "y" }]), { label: "y", note: null });
  assert.deepEqual(majorityByField(["label"], []), {});
  const majority = { label: "pos", tags: ["a", "b"] };
  assert.deepEqual(differingFields({ tags: ["b", "a"], label: "pos" }, majority), ["tags"]);
  assert.deepEqual(differingFields({ label: "pos", tags: ["a", "b"] }, majority), []);
});

test("list diff: kept, added, removed, and related pairs as changed", () => {
  const d = diffList([1, 2, 3, 30, 7], [2, 4, 31, 2, 9], (a, b) => Math.abs(a - b) === 1);
  assert.deepEqual(d, {
    kept: [2], added: [9], removed: [7],
    changed: [{ from: 1, to: 2 }, { from: 3, to: 4 }, { from: 30, to: 31 }],
  });
  assert.deepEqual(diffList(null, ["a"]), { kept: [], added: ["a"], removed: [], changed: [] });
  assert.deepEqual(diffList(["a", "a"], ["a"]), { kept: ["a"], added: [], removed: ["a"], changed: [] });
  assert.deepEqual([...itemsNotIn(["a", "a", "b"], ["a", "c"])], [1, 2]); // equal items match once
  assert.deepEqual([...itemsNotIn([{ x: 1, y: 2 }], [{ y: 2, x: 1 }])], []);
});

test("word diff: only the changed words, and both texts can be rebuilt from it", () => {
  assert.deepEqual(wordDiff("the cat sat", "the dog sat"), [
    { op: "same", text: "the " }, { op: "removed", text: "cat" }, { op: "added", text: "dog" }, { op: "same", text: " sat" },
  ]);
  assert.deepEqual(wordDiff("same text", "same text"), [{ op: "same", text: "same text" }]);
  assert.deepEqual(wordDiff(null, "new"), [{ op: "added", text: "new" }]);
  assert.deepEqual(wordDiff("", ""), []);
  // a space between two changed words belongs to the change: one replacement, not four pieces
  assert.deepEqual(wordDiff("a b c d", "a x y d"), [
    { op: "same", text: "a " }, { op: "removed", text: "b c" }, { op: "added", text: "x y" }, { op: "same", text: " d" },
  ]);
  const pairs = [
    ["B is shorter.", "A explains buckets."],
    ["Line one.\nLine two, unchanged.", "Line one!\nLine two, unchanged. And three."],
    ["emoji 😀 here", "emoji 😀 there"],
    ["x ".repeat(3000), "y ".repeat(3000)], // past the table limit: replaced whole
  ];
  for (const [a, b] of pairs) {
    const d = wordDiff(a, b);
    assert.equal(d.filter((c) => c.op !== "added").map((c) => c.text).join(""), a);
    assert.equal(d.filter((c) => c.op !== "removed").map((c) => c.text).join(""), b);
  }
  assert.deepEqual(tokenize("It's 2 o'clock, ok?"), ["It's", " ", "2", " ", "o'clock", ",", " ", "ok", "?"]);
  assert.equal(clip("a\n  long   text here", 9), "a long t…");
  assert.equal(clip("😀😀😀", 2), "😀…");
});

test("option names and colours: label over value, schema colour over the palette", () => {
  const style = optionStyle([{ value: "PER", label: "Person", color: "#112233" }, { value: "LOC" }]);
  assert.equal(style.nameOf("PER"), "Person");
  assert.equal(style.nameOf("LOC"), "LOC");
  assert.equal(style.nameOf("GONE"), "GONE");
  assert.equal(style.colorOf("PER"), "#112233");
  assert.notEqual(style.colorOf("LOC"), "#112233");
  assert.ok(style.known("LOC") && !style.known("GONE"));
});

test("choice, choices, rating, text: changes by label and rubric", () => {
  const options = [{ value: "pos", label: "Positive" }, { value: "neg", label: "Negative" }, { value: "neu" }];
  assert.deepEqual(items(choice.changes({ options }, "pos", "neg")), ["removed Positive", "added Negative"]);
  assert.deepEqual(items(choice.changes({ options }, null, "neu")), ["added neu"]);
  const many = { options, min_selected: 0 };
  assert.deepEqual(items(choices.changes(many, ["pos"], ["pos", "neg"])), ["added Negative"]);
  assert.deepEqual(items(choices.changes(many, ["pos"], [])), ["removed Positive", "added none of these"]);
  assert.deepEqual(items(choices.changes(many, [], ["neu"])), ["removed none of these", "added neu"]);
  const scale = { min: 1, max: 5, rubric: { 2: "Mostly unhelpful", 4: "Good" } };
  assert.equal(rating.ratingText(scale, 4), "4 · Good");
  assert.equal(rating.ratingText(scale, 3), "3");
  assert.deepEqual(items(rating.changes(scale, 2, 4)), ["removed 2 · Mostly unhelpful", "added 4 · Good"]);
  const t = text.changes({}, "B is shorter.", "A is shorter.");
  assert.equal(t.inline, true);
  assert.deepEqual(items(t), ["removed B", "added A", "same  is shorter."]);
});

test("spans: added, removed, relabelled and resized spans in text order (code points)", () => {
  const field = { source: "text", labels: [{ value: "PER", label: "Person" }, { value: "ORG" }, { value: "LOC", label: "Location" }] };
  const task = { data: { text: "😀 Ada Lovelace met Babbage in London." } };
  const span = (start, end, label) => ({ start, end, label });
  const before = [span(2, 5, "PER"), span(19, 26, "PER"), span(30, 36, "LOC")];
  const after = [span(2, 14, "PER"), span(19, 26, "ORG"), span(30, 36, "LOC"), span(0, 1, "ORG")];
  assert.deepEqual(items(spans.changes(field, before, after, task)), [
    "added “😀” (ORG)",
    "changed “Ada” (Person) → “Ada Lovelace” (Person)",
    "changed “Babbage”: Person → ORG",
  ]);
  assert.deepEqual(items(spans.changes(field, [span(30, 36, "LOC")], [], task)), ["removed “London” (Location)"]);
  // the stored text wins; without the task's text the offsets stand in
  assert.deepEqual(items(spans.changes(field, [], [{ ...span(1, 3, "PER"), text: "hidden" }], {})), ["added “hidden” (Person)"]);
  assert.deepEqual(items(spans.changes(field, [], [span(1, 3, "PER")], {})), ["added “1–3” (Person)"]);
});

test("pairwise: the verdict uses the screen letters the annotator saw", () => {
  const field = { name: "pref", strengths: ["slightly", "clearly"] };
  const straight = { id: 1, data: { responses: ["first answer", "second answer"] } }; // sides [0, 1]
  const swapped = { id: 2, data: { responses: ["first answer", "second answer"] } }; // sides [1, 0]
  assert.deepEqual(pairwise.sides(field, straight), [0, 1]);
  assert.deepEqual(pairwise.sides(field, swapped), [1, 0]);
  assert.equal(pairwise.verdict(field, straight, { choice: "A", strength: "clearly" }), "A is better (clearly)");
  assert.equal(pairwise.verdict(field, swapped, { choice: "A", strength: "clearly" }), "B is better (clearly)");
  assert.equal(pairwise.verdict(field, swapped, { choice: "tie", strength: null }), "Tie");
  assert.equal(pairwise.verdict(field, swapped, null), "not answered");
  assert.deepEqual(items(pairwise.changes(field, { choice: "B", strength: "slightly" }, { choice: "A", strength: null }, straight)), [
    "removed B is better (slightly): “second answer”", "added A is better: “first answer”",
  ]);
  assert.deepEqual(items(pairwise.changes(field, null, { choice: "tie", strength: null }, straight)), ["added Tie"]);
});

test("ranking: each response whose rank moved; a whole order when one side is missing", () => {
  const field = { responses: "responses" };
  const task = { data: { responses: ["alpha", "beta", "gamma"] } };
  assert.deepEqual(items(ranking.changes(field, [1, 2, 3], [2, 1, 3], task)), ["changed “beta”: #2 → #1", "changed “alpha”: #1 → #2"]);
  assert.deepEqual(items(ranking.changes(field, null, [2, 1, 2], task)), ["added #1 “beta”, #2 “alpha” = “gamma”"]);
  assert.deepEqual(items(ranking.changes(field, [1, 2, 3], [1, 2, 3], task)), []);
});

test("boxes: moved or resized, relabelled, added and removed", () => {
  const field = { labels: [{ value: "circle" }, { value: "square", label: "Square" }] };
  const box = (x, y, width, height, label) => ({ x, y, width, height, label });
  const before = [box(40, 30, 100, 80, "circle"), box(300, 200, 60, 50, "square"), box(0, 0, 10, 10, "circle")];
  const after = [box(42, 31, 98, 80, "circle"), box(300, 200, 60, 50, "circle"), box(400, 10, 20, 20, "square")];
  assert.deepEqual(items(boxes.changes(field, before, after)), [
    "changed circle: 40, 30 · 100×80 → 42, 31 · 98×80",
    "changed Square → circle at 300, 200 · 60×50",
    "removed circle at 0, 0 · 10×10",
    "added Square at 400, 10 · 20×20",
  ]);
  assert.equal(overlapRatio(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
  assert.equal(overlapRatio(box(0, 0, 10, 10), box(5, 0, 10, 10)), 50 / 150);
  assert.equal(overlapRatio(box(0, 0, 10, 10), box(10, 0, 10, 10)), 0);
});

test("rubric: the aggregate as the server computes it, and changes per criterion", () => {
  const criteria = [
    { name: "help", min: 1, max: 5, weight: 2 },
    { name: "right", min: 0, max: 1, critical: true },
    { name: "safe", min: 1, max: 5, critical: true, pass_at: 3 },
  ];
  assert.equal(rubric.aggregate(criteria, { help: 4 }), null);
  const ok = rubric.aggregate(criteria, { help: 4, right: 1, safe: 5 });
  assert.deepEqual(ok, { aggregate: (2 * 0.75 + 1 + 1) / 4, failed: [], failedCritical: false });
  const unsafe = rubric.aggregate(criteria, { help: 1, right: 1, safe: 2 });
  assert.deepEqual([unsafe.failed, unsafe.failedCritical], [["help", "safe"], true]);
  const field = { criteria };
  const before = { scores: { help: 4, right: 1, safe: 5 }, justifications: {} };
  const after = { scores: { help: 2, right: 1, safe: 5 }, justifications: { help: "vague" } };
  assert.deepEqual(items(rubric.changes(field, before, after)), ["changed help: 4 → 2", "changed help justification: vague"]);
});
