// Pure geometry for the boxes widget: image ↔ screen coordinates, zoom, drawing, moving and
// resizing boxes. Boxes are {x, y, width, height} in image pixels (origin top-left), which
// is what the server stores. No DOM; tested with `node --test`.

/** Resize handles, clockwise from the top-left corner. */
export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/**
 * Image coordinates of a point given in viewport pixels.
 * @param {{scale: number, x: number, y: number}} view screen = image * scale + (x, y)
 * @param {number} sx
 * @param {number} sy
 * @returns {{x: number, y: number}}
 */
export function toImage(view, sx, sy) {
  return { x: (sx - view.x) / view.scale, y: (sy - view.y) / view.scale };
}

/**
 * The view that shows the whole image centred in the viewport.
 * @param {number} imgW
 * @param {number} imgH
 * @param {number} vpW
 * @param {number} vpH
 * @param {number} [maxScale] do not blow small images up beyond this
 * @returns {{scale: number, x: number, y: number}}
 */
export function fitView(imgW, imgH, vpW, vpH, maxScale = 2) {
  const scale = Math.min(vpW / imgW, vpH / imgH, maxScale);
  return { scale, x: (vpW - imgW * scale) / 2, y: (vpH - imgH * scale) / 2 };
}

/**
 * Zoom by `factor` keeping the image point under (sx, sy) where it is.
 * @param {{scale: number, x: number, y: number}} view
 * @param {number} factor e.g. 1.25 to zoom in
 * @param {number} sx viewport x of the fixed point
 * @param {number} sy viewport y of the fixed point
 * @param {number} [minScale]
 * @param {number} [maxScale]
 * @returns {{scale: number, x: number, y: number}}
 */
export function zoomAt(view, factor, sx, sy, minScale = 0.05, maxScale = 32) {
  const scale = clamp(view.scale * factor, minScale, maxScale);
  const p = toImage(view, sx, sy);
  return { scale, x: sx - p.x * scale, y: sy - p.y * scale };
}

/**
 * The box spanned by two points (either order), kept inside the image.
 * @param {{x: number, y: number}} a
 * @param {{x: number, y: number}} b
 * @param {number} W image width
 * @param {number} H image height
 * @returns {{x: number, y: number, width: number, height: number}}
 */
export function rectFromPoints(a, b, W, H) {
  const x1 = clamp(Math.min(a.x, b.x), 0, W);
  const x2 = clamp(Math.max(a.x, b.x), 0, W);
  const y1 = clamp(Math.min(a.y, b.y), 0, H);
  const y2 = clamp(Math.max(a.y, b.y), 0, H);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/**
 * Move a box by (dx, dy), stopping at the image edges.
 * @template {{x: number, y: number, width: number, height: number}} B
 * @param {B} box
 * @param {number} dx
 * @param {number} dy
 * @param {number} W
 * @param {number} H
 * @returns {B}
 */
export function moveBox(box, dx, dy, W, H) {
  return {
    ...box,
    x: clamp(box.x + dx, 0, Math.max(0, W - box.width)),
    y: clamp(box.y + dy, 0, Math.max(0, H - box.height)),
  };
}

/**
 * Drag one handle of a box to `pt`. Edges never cross and never leave the image; the box
 * stays at least `minSize` pixels wide and high.
 * @template {{x: number, y: number, width: number, height: number}} B
 * @param {B} box
 * @param {string} handle one of {@link HANDLES}
 * @param {{x: number, y: number}} pt image coordinates
 * @param {number} W
 * @param {number} H
 * @param {number} [minSize]
 * @returns {B}
 */
export function resizeBox(box, handle, pt, W, H, minSize = 1) {
  let left = box.x;
  let top = box.y;
  let right = box.x + box.width;
  let bottom = box.y + box.height;
  if (handle.includes("w")) left = clamp(pt.x, 0, right - minSize);
  if (handle.includes("e")) right = clamp(pt.x, left + minSize, W);
  if (handle.includes("n")) top = clamp(pt.y, 0, bottom - minSize);
  if (handle.includes("s")) bottom = clamp(pt.y, top + minSize, H);
  return { ...box, x: left, y: top, width: right - left, height: bottom - top };
}

/**
 * Grow (positive) or shrink (negative) a box from the keyboard: `dw` moves its right edge,
 * `dh` its bottom edge; the top-left corner stays. The box never leaves the image and never
 * gets smaller than `minSize`.
 * @template {{x: number, y: number, width: number, height: number}} B
 * @param {B} box
 * @param {number} dw
 * @param {number} dh
 * @param {number} W
 * @param {number} H
 * @param {number} [minSize]
 * @returns {B}
 */
export function growBox(box, dw, dh, W, H, minSize = 1) {
  let out = box;
  if (dw) out = resizeBox(out, "e", { x: out.x + out.width + dw, y: 0 }, W, H, minSize);
  if (dh) out = resizeBox(out, "s", { x: 0, y: out.y + out.height + dh }, W, H, minSize);
  return out;
}

/**
 * The part of the image visible in the viewport, in image pixels; the whole image when
 * none of it is visible (panned away).
 * @param {{scale: number, x: number, y: number}} view
 * @param {number} vpW viewport width (screen px)
 * @param {number} vpH viewport height (screen px)
 * @param {number} W image width
 * @param {number} H image height
 * @returns {{x: number, y: number, width: number, height: number}}
 */
export function visibleRect(view, vpW, vpH, W, H) {
  const a = toImage(view, 0, 0);
  const b = toImage(view, vpW, vpH);
  const r = rectFromPoints(a, b, W, H);
  return r.width > 0 && r.height > 0 ? r : { x: 0, y: 0, width: W, height: H };
}

/**
 * A new box drawn from the keyboard: `share` (20%) of the visible width and height, centred
 * in the visible part of the image, in whole pixels, at least `minSize` and inside the image.
 * Null when the image is smaller than `minSize`.
 * @param {{x: number, y: number, width: number, height: number}} visible from {@link visibleRect}
 * @param {number} W
 * @param {number} H
 * @param {number} [minSize]
 * @param {number} [share]
 * @returns {{x: number, y: number, width: number, height: number}|null}
 */
export function newBoxIn(visible, W, H, minSize = 1, share = 0.2) {
  if (W < minSize || H < minSize) return null;
  const width = clamp(Math.round(visible.width * share), minSize, W);
  const height = clamp(Math.round(visible.height * share), minSize, H);
  const x = clamp(Math.round(visible.x + (visible.width - width) / 2), 0, W - width);
  const y = clamp(Math.round(visible.y + (visible.height - height) / 2), 0, H - height);
  return { x, y, width, height };
}

/**
 * Where a handle is drawn.
 * @param {{x: number, y: number, width: number, height: number}} box
 * @param {string} handle
 * @returns {{x: number, y: number}}
 */
export function handlePosition(box, handle) {
  const x = handle.includes("w") ? box.x : handle.includes("e") ? box.x + box.width : box.x + box.width / 2;
  const y = handle.includes("n") ? box.y : handle.includes("s") ? box.y + box.height : box.y + box.height / 2;
  return { x, y };
}

/**
 * The handle of `box` within `radius` (image px) of `pt`, or null.
 * @param {{x: number, y: number, width: number, height: number}} box
 * @param {{x: number, y: number}} pt
 * @param {number} radius
 * @returns {string|null}
 */
export function hitHandle(box, pt, radius) {
  for (const handle of HANDLES) {
    const p = handlePosition(box, handle);
    if (Math.abs(p.x - pt.x) <= radius && Math.abs(p.y - pt.y) <= radius) return handle;
  }
  return null;
}

/**
 * The smallest box containing `pt` (so a box inside another stays reachable), or -1.
 * @param {Array<{x: number, y: number, width: number, height: number}>} boxes
 * @param {{x: number, y: number}} pt
 * @returns {number}
 */
export function hitBox(boxes, pt) {
  let best = -1;
  boxes.forEach((b, i) => {
    const inside = pt.x >= b.x && pt.x <= b.x + b.width && pt.y >= b.y && pt.y <= b.y + b.height;
    if (inside && (best < 0 || b.width * b.height < boxes[best].width * boxes[best].height)) best = i;
  });
  return best;
}

/**
 * Round to 1/100 px, as the server stores boxes (finer is mouse noise).
 * @template {{x: number, y: number, width: number, height: number}} B
 * @param {B} box
 * @returns {B}
 */
export function roundBox(box) {
  const r = (v) => Math.round(v * 100) / 100 + 0;
  return { ...box, x: r(box.x), y: r(box.y), width: r(box.width), height: r(box.height) };
}

/**
 * Intersection over union of two boxes: 1 for the same box, 0 for boxes apart (how much
 * a box was moved or resized between two answers).
 * @param {{x: number, y: number, width: number, height: number}} a
 * @param {{x: number, y: number, width: number, height: number}} b
 * @returns {number}
 */
export function overlapRatio(a, b) {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const hgt = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || hgt <= 0) return 0;
  const inter = w * hgt;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
