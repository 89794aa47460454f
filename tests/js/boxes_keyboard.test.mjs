// Keyboard drawing and resizing of boxes (pure geometry), run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fitView, growBox, newBoxIn, visibleRect, zoomAt } from "../../src/labelhouse/web/static/js/widgets/lib/geometry.js";
import { assignKeys, freeKey } from "../../src/labelhouse/web/static/js/widgets/lib/keys.js";

test("boxes keys: the new-box key is N unless a label's hotkey takes it", () => {
  assert.equal(freeKey(["n", "b"], assignKeys([{ hotkey: "c" }, {}])), "n");
  assert.equal(freeKey(["n", "b"], assignKeys([{ hotkey: "N" }, {}])), "b");
  assert.equal(freeKey(["n", "b"], ["n", "b"]), null);
});

test("boxes keys: the visible part of the image", () => {
  const fit = fitView(200, 100, 600, 400); // scale 2, whole image shown
  assert.deepEqual(visibleRect(fit, 600, 400, 200, 100), { x: 0, y: 0, width: 200, height: 100 });
  const zoomed = zoomAt(fit, 2, 300, 200); // scale 4 around the centre: 150×100 screen px of 600×400
  assert.deepEqual(visibleRect(zoomed, 600, 400, 200, 100), { x: 25, y: 0, width: 150, height: 100 });
  const away = { scale: 1, x: -5000, y: 0 }; // panned off the image: fall back to all of it
  assert.deepEqual(visibleRect(away, 600, 400, 200, 100), { x: 0, y: 0, width: 200, height: 100 });
});

test("boxes keys: a new box is 20% of the visible part, centred, whole pixels, inside", () => {
  assert.deepEqual(newBoxIn({ x: 0, y: 0, width: 200, height: 100 }, 200, 100), { x: 80, y: 40, width: 40, height: 20 });
  assert.deepEqual(newBoxIn({ x: 25, y: 0, width: 150, height: 100 }, 200, 100), { x: 85, y: 40, width: 30, height: 20 });
  assert.deepEqual(newBoxIn({ x: 10.4, y: 3.3, width: 33, height: 17 }, 200, 100), { x: 23, y: 10, width: 7, height: 3 });
  // never below min_size, and pushed back inside the image at an edge
  assert.deepEqual(newBoxIn({ x: 0, y: 0, width: 20, height: 10 }, 200, 100, 8), { x: 6, y: 1, width: 8, height: 8 });
  assert.deepEqual(newBoxIn({ x: 198, y: 98, width: 2, height: 2 }, 200, 100, 5), { x: 195, y: 95, width: 5, height: 5 });
  assert.equal(newBoxIn({ x: 0, y: 0, width: 4, height: 4 }, 4, 4, 5), null);
});

test("boxes keys: growing and shrinking keeps the top-left corner, min_size and the image", () => {
  const box = { x: 80, y: 40, width: 40, height: 20, label: "cat" };
  assert.deepEqual(growBox(box, 3, 0, 200, 100), { ...box, width: 43 });
  assert.deepEqual(growBox(box, 0, -10, 200, 100), { ...box, height: 10 });
  assert.deepEqual(growBox(box, 1000, 1000, 200, 100), { ...box, width: 120, height: 60 });
  assert.deepEqual(growBox(box, -1000, -1000, 200, 100, 8), { ...box, width: 8, height: 8 });
  assert.deepEqual(growBox(box, -1000, 0, 200, 100), { ...box, width: 1 });
  assert.deepEqual(growBox({ ...box, x: 190 }, 10, 0, 200, 100, 1), { ...box, x: 190, width: 10 }); // already past: pulled in
});
