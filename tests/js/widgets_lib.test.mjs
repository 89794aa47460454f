// Pure widget logic, run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { assignKeys, optionForKey, typeNumber } from "../../src/labelhouse/web/static/js/widgets/lib/keys.js";
import { hashString, seededOrder } from "../../src/labelhouse/web/static/js/widgets/lib/random.js";
import {
  addSpan, charStep, cleanRange, offsetConverter, segments, sortSpans, spanAt, wordStep,
} from "../../src/labelhouse/web/static/js/widgets/lib/spans.js";
import {
  fitView, handlePosition, hitBox, hitHandle, moveBox, rectFromPoints, resizeBox, roundBox, toImage, zoomAt,
} from "../../src/labelhouse/web/static/js/widgets/lib/geometry.js";
import {
  dropItem, groupsFromRanks, moveItem, placeAt, ranksFromGroups, tieWithAbove,
} from "../../src/labelhouse/web/static/js/widgets/lib/ranking.js";

test("keys: explicit hotkeys first, then free digits in order", () => {
  assert.deepEqual(assignKeys([{ hotkey: "2" }, {}, { hotkey: "X" }, {}]), ["2", "1", "x", "3"]);
  const many = Array.from({ length: 11 }, () => ({}));
  assert.deepEqual(assignKeys(many).slice(8), ["9", null, null]);
  assert.equal(optionForKey(["1", "x"], "X"), 1);
  assert.equal(optionForKey(["1", "x"], "Enter"), -1);
});

test("keys: typing multi-digit ratings", () => {
  assert.deepEqual(typeNumber("", "1", 0, 10), { buffer: "1", value: 1 });
  assert.deepEqual(typeNumber("1", "0", 0, 10), { buffer: "10", value: 10 });
  assert.deepEqual(typeNumber("1", "5", 0, 10), { buffer: "5", value: 5 });
  assert.deepEqual(typeNumber("", "7", 1, 5), { buffer: "", value: null });
  assert.deepEqual(typeNumber("-", "2", -3, 3), { buffer: "-2", value: -2 });
});

test("random: a seeded order is a stable permutation, and varies between seeds", () => {
  assert.equal(hashString("abc"), hashString("abc"));
  assert.notEqual(hashString("1:pref"), hashString("2:pref"));
  assert.deepEqual(seededOrder(5, "7:f"), seededOrder(5, "7:f"));
  assert.deepEqual([...seededOrder(5, "7:f")].sort(), [0, 1, 2, 3, 4]);
  const swapped = new Set(Array.from({ length: 40 }, (_, id) => seededOrder(2, `${id}:p`)[0]));
  assert.deepEqual([...swapped].sort(), [0, 1]); // both orders happen
});

test("spans: code points ↔ UTF-16 offsets around emoji", () => {
  const text = "😀 Bob 👍🏽 ok";
  const conv = offsetConverter(text);
  assert.equal(conv.toUtf16(2), 3); // "B"
  assert.equal(conv.toCodePoint(3), 2);
  assert.equal(conv.toUtf16([...text].length), text.length);
  assert.equal(conv.toCodePoint(1), 0); // inside the surrogate pair → the emoji
  const plain = offsetConverter("abc");
  assert.equal(plain.toUtf16(2), 2);
});

test("spans: cleaning a selection and moving the caret", () => {
  const text = "  Ada  Lovelace 😀 ";
  assert.deepEqual(cleanRange(text, 0, 6), { start: 2, end: 5 });
  assert.deepEqual(cleanRange(text, 6, 2), { start: 2, end: 5 });
  assert.deepEqual(cleanRange(text, 0, 2), { start: 2, end: 2 });
  assert.equal(charStep(text, 16, 1), 18); // over the surrogate pair
  assert.equal(wordStep(text, 0, 1), 5);
  assert.equal(wordStep(text, 5, 1), 15);
  assert.equal(wordStep(text, 15, -1), 7);
});

test("spans: adding respects overlap rules; sorting matches the server", () => {
  const a = { start: 0, end: 3, label: "PER" };
  let r = addSpan([], a, false);
  assert.equal(r.error, null);
  r = addSpan(r.spans, { start: 2, end: 5, label: "LOC" }, false);
  assert.equal(r.error.reason, "overlap");
  r = addSpan([a], { start: 2, end: 5, label: "LOC" }, true);
  assert.deepEqual(r.spans.map((s) => s.start), [0, 2]);
  assert.equal(addSpan([a], { ...a }, true).error.reason, "duplicate");
  assert.deepEqual(sortSpans([{ start: 1, end: 2, label: "b" }, { start: 1, end: 2, label: "a" }, { start: 0, end: 9, label: "z" }])
    .map((s) => s.label), ["z", "a", "b"]);
  assert.equal(spanAt([{ start: 0, end: 10 }, { start: 2, end: 4 }], 3), 1);
  assert.equal(spanAt([{ start: 0, end: 10 }], 10), -1);
});

test("spans: segments cut at every boundary and know what covers them", () => {
  const segs = segments(10, [{ start: 0, end: 6 }, { start: 2, end: 4 }], { start: 8, end: 9 }, [7]);
  assert.deepEqual(segs.map((s) => [s.start, s.end, s.covers, s.pending]), [
    [0, 2, [0], false], [2, 4, [0, 1], false], [4, 6, [0], false], [6, 7, [], false],
    [7, 8, [], false], [8, 9, [], true], [9, 10, [], false],
  ]);
});

test("geometry: image ↔ screen, fit and zoom around a point", () => {
  const view = fitView(200, 100, 800, 600);
  assert.deepEqual(view, { scale: 2, x: 200, y: 200 });
  assert.deepEqual(toImage(view, 200, 200), { x: 0, y: 0 });
  const z = zoomAt(view, 2, 300, 250);
  assert.equal(z.scale, 4);
  assert.deepEqual(toImage(z, 300, 250), toImage(view, 300, 250));
  assert.equal(fitView(4000, 1000, 800, 600).scale, 0.2);
});

test("geometry: drawing, moving and resizing stay inside the image", () => {
  assert.deepEqual(rectFromPoints({ x: 50, y: 40 }, { x: -5, y: 10 }, 100, 50), { x: 0, y: 10, width: 50, height: 30 });
  const box = { x: 10, y: 10, width: 20, height: 10, label: "cat" };
  assert.deepEqual(moveBox(box, 100, -50, 100, 50), { ...box, x: 80, y: 0 });
  assert.deepEqual(resizeBox(box, "se", { x: 40, y: 35 }, 100, 30), { ...box, width: 30, height: 20 });
  assert.deepEqual(resizeBox(box, "nw", { x: 50, y: 50 }, 100, 100, 2), { ...box, x: 28, y: 18, width: 2, height: 2 });
  assert.deepEqual(resizeBox(box, "n", { x: 0, y: -9 }, 100, 100), { ...box, y: 0, height: 20 });
  assert.deepEqual(handlePosition(box, "e"), { x: 30, y: 15 });
  assert.equal(hitHandle(box, { x: 31, y: 19 }, 2), "se");
  assert.equal(hitHandle(box, { x: 20, y: 15 }, 2), null);
  assert.equal(hitBox([{ x: 0, y: 0, width: 100, height: 100 }, box], { x: 15, y: 15 }), 1);
  assert.equal(hitBox([box], { x: 0, y: 0 }), -1);
  assert.deepEqual(roundBox({ x: 1.005, y: 2.3449, width: 3.999, height: -0 }), { x: 1, y: 2.34, width: 4, height: 0 });
});

test("ranking: groups ↔ dense ranks, moves, ties and drops", () => {
  assert.deepEqual(groupsFromRanks([2, 1, 2]), [[1], [0, 2]]);
  assert.deepEqual(ranksFromGroups([[1], [0, 2]], 3), [2, 1, 2]);
  assert.deepEqual(moveItem([[0], [1], [2]], 2, -1), [[0], [2], [1]]);
  assert.deepEqual(moveItem([[0], [1], [2]], 0, -1), [[0], [1], [2]]);
  assert.deepEqual(moveItem([[0, 1], [2]], 1, -1), [[1], [0], [2]]); // leaves its tie first
  assert.deepEqual(moveItem([[0, 1], [2]], 0, 1), [[1], [0], [2]]);
  assert.deepEqual(tieWithAbove([[0], [2], [1]], 2), [[0, 2], [1]]);
  assert.deepEqual(tieWithAbove([[0], [1]], 0), [[0], [1]]);
  assert.deepEqual(dropItem([[0], [1], [2]], 2, 0, "before"), [[2], [0], [1]]);
  assert.deepEqual(dropItem([[0], [1], [2]], 0, 2, "after"), [[1], [2], [0]]);
  assert.deepEqual(dropItem([[2], [0], [1]], 1, 0, "tie"), [[2], [0, 1]]);
  assert.deepEqual(placeAt([[0], [1], [2]], 2, 1), [[2], [0], [1]]);
});
