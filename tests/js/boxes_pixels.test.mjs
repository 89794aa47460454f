// Boxes drawn, moved or resized on the annotate page are stored in whole image pixels
// (issue 13 item 9d): pixelBox, and the gestures' results passed through it.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  growBox, moveBox, pixelBox, rectFromPoints, resizeBox, toImage,
} from "../../src/labelhouse/web/static/js/widgets/lib/geometry.js";

const whole = (b) => ["x", "y", "width", "height"].every((k) => Number.isInteger(b[k]));

test("pixelBox rounds each edge to the nearest pixel", () => {
  assert.deepEqual(pixelBox({ x: 10.4, y: 20.6, width: 30.2, height: 9.8, label: "cat" }, 100, 100), {
    x: 10, y: 21, width: 31, height: 9, label: "cat",
  });
  // a whole-pixel box is left as it is
  assert.deepEqual(pixelBox({ x: 3, y: 4, width: 5, height: 6 }, 100, 100), { x: 3, y: 4, width: 5, height: 6 });
  assert.ok(!Object.is(pixelBox({ x: -0.2, y: 0, width: 3, height: 3 }, 10, 10).x, -0));
});

test("pixelBox keeps the box inside the image and at least min_size (and 1 px)", () => {
  assert.deepEqual(pixelBox({ x: -3.2, y: 95.5, width: 10, height: 10 }, 100, 100), { x: 0, y: 96, width: 7, height: 4 });
  assert.deepEqual(pixelBox({ x: 5.2, y: 5.2, width: 0.2, height: 0.4 }, 100, 100), { x: 5, y: 5, width: 1, height: 1 });
  // min_size 1.5 means 2 whole pixels; at the far edge the box grows backwards
  assert.deepEqual(pixelBox({ x: 99.6, y: 10, width: 0.3, height: 1.6 }, 100, 100, 1.5), { x: 98, y: 10, width: 2, height: 2 });
  // an image smaller than min_size: the whole of it
  assert.deepEqual(pixelBox({ x: 0, y: 0, width: 2, height: 2 }, 3, 3, 8), { x: 0, y: 0, width: 3, height: 3 });
  // image size unknown: no far edge
  assert.deepEqual(pixelBox({ x: 5000.4, y: 1.5, width: 10.2, height: 3 }, 0, 0), { x: 5000, y: 2, width: 11, height: 3 });
});

test("a mouse drag at a fractional zoom gives whole pixels; moving keeps the size", () => {
  const view = { scale: 0.7311, x: 13.5, y: 7.25 };
  const a = toImage(view, 101, 57);
  const b = toImage(view, 322, 211);
  const raw = rectFromPoints(a, b, 1000, 700);
  assert.ok(!whole(raw)); // what was stored before: fractions of a pixel
  const drawn = pixelBox(raw, 1000, 700);
  assert.ok(whole(drawn));
  for (const k of ["x", "y", "width", "height"]) assert.ok(Math.abs(drawn[k] - raw[k]) <= 1, k);
  for (const d of [0.5, 1.49, 2.5, -0.5, 7.77]) {
    const moved = pixelBox(moveBox(drawn, d, -d, 1000, 700), 1000, 700);
    assert.ok(whole(moved));
    assert.equal(moved.width, drawn.width);
    assert.equal(moved.height, drawn.height);
  }
  const resized = pixelBox(resizeBox(drawn, "se", { x: 500.3, y: 400.8 }, 1000, 700), 1000, 700);
  assert.deepEqual([resized.x, resized.y, resized.x + resized.width, resized.y + resized.height], [drawn.x, drawn.y, 500, 401]);
});

test("keyboard moves and resizes of a fractional (predicted) box end on whole pixels", () => {
  const predicted = { x: 10.25, y: 20.75, width: 50.5, height: 40.4 };
  const moved = pixelBox(moveBox(predicted, 1, 0, 200, 100), 200, 100);
  assert.deepEqual(moved, { x: 11, y: 21, width: 51, height: 40 });
  const grown = pixelBox(growBox(predicted, 10, -1, 200, 100), 200, 100);
  assert.deepEqual(grown, { x: 10, y: 21, width: 61, height: 39 }); // edges at 10.25→10, 71.75→71, 20.75→21, 60.15→60
  assert.ok(whole(grown));
});
