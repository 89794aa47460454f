// Bounding boxes on an image. Mouse: drag on empty image to draw (with the current label),
// click a box to select it, drag it to move, drag a handle to resize; wheel zooms at the
// cursor; Space+drag or middle-drag pans. Keys: a label's key sets the drawing label or
// relabels the selected box, N adds a box (current label) in the middle of what is visible,
// Delete/Backspace removes it, arrows nudge it or pan, Shift+arrows resize it (→/↓ grow,
// ←/↑ shrink; Ctrl/⌘ with either: 10 px), [ / ] select the previous/next box,
// + / − / 0 zoom in, out, to fit. (Alt is not used: Alt+↑/↓ belong to the page.)
// Coordinates are image pixels (the stored value), whatever the zoom; see lib/geometry.js.
import { diffList, itemsNotIn } from "./lib/diff.js";
import { displayRoot, notAnswered, optionStyle } from "./lib/display.js";
import { h, hiddenKbd, kbd } from "./lib/dom.js";
import { assignKeys, freeKey, optionForKey } from "./lib/keys.js";
import {
  HANDLES, fitView, growBox, handlePosition, hitBox, hitHandle, moveBox, newBoxIn, overlapRatio, rectFromPoints, resizeBox, roundBox,
  toImage, visibleRect, zoomAt,
} from "./lib/geometry.js";

const PALETTE = ["#e07a5f", "#3d85c6", "#81b29a", "#f2cc8f", "#9b5de5", "#f15bb5"];
const SVG = "http://www.w3.org/2000/svg";
const HANDLE_PX = 9; // handle size on screen
const CLICK_PX = 3; // a drag shorter than this (screen px) is a click
const NEW_BOX_KEYS = ["n", "b"]; // the first one no label uses adds a box

/** The key that adds a box, or null when the labels use them all. */
const newBoxKey = (field) => freeKey(NEW_BOX_KEYS, assignKeys(field.labels));

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "boxes")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const keys = assignKeys(field.labels);
  const add = newBoxKey(field);
  return [
    ...field.labels.flatMap((l, i) => (keys[i] ? [[keys[i], `draw with / relabel to “${l.label || l.value}”`]] : [])),
    ...(add ? [[add, "add a box with the current label in the middle of the view"]] : []),
    ["Delete", "remove the selected box (or Backspace)"], ["←↑↓→", "nudge the box 1 px (Ctrl: 10 px), or pan"],
    ["Shift+←↑↓→", "resize the box: → ↓ grow, ← ↑ shrink, 1 px (Ctrl+Shift: 10 px)"],
    ["]", "select the next box ([ the previous)"], ["+", "zoom in (− out, 0 fit)"], ["Space", "hold and drag to pan"], ["Escape", "deselect"],
  ];
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * One box as SVG in image coordinates: its rectangle and its label's name.
 * @param {{x: number, y: number, width: number, height: number, label: string}} b
 * @param {{index: number, cls: string, unit: number, style: object}} opts `unit`: one
 *   screen pixel in image pixels (the tag keeps its size whatever the zoom)
 * @returns {SVGGElement}
 */
function boxShape(b, { index, cls, unit, style }) {
  const g = svg("g", { class: cls, "data-index": index, "data-label": b.label });
  g.style.setProperty("--mark", style.colorOf(b.label));
  g.append(svg("rect", { x: b.x, y: b.y, width: b.width, height: b.height, class: "lh-box-rect" }));
  const tag = svg("text", { x: b.x + 3 * unit, y: b.y + 13 * unit, class: "lh-box-tag", "font-size": 12 * unit });
  tag.textContent = style.nameOf(b.label);
  g.append(tag);
  return g;
}

/** The task's image: its data reference and the URL to load (uploaded files only). */
function imageOf(field, task) {
  const ref = task?.data?.[field.image || "image"];
  const src = task?.media?.[ref] || (typeof ref === "string" && /^(\/(?!\/)|data:|blob:)/.test(ref) ? ref : null);
  return { ref, src };
}

/**
 * Mount a boxes widget. Value: [{x, y, width, height, label}] in image pixels (rounded to
 * 1/100 px); [] means "nothing to box".
 * @param {HTMLElement} container
 * @param {{field: object, task: object, value?: object[]|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, task, value = null, readOnly = false, onChange = () => {} }) {
  const labels = field.labels;
  const keys = assignKeys(labels);
  const addKey = newBoxKey(field);
  const minSize = field.min_size ?? 1;
  const style = optionStyle(labels, PALETTE);
  const { colorOf, nameOf } = style;
  const { ref, src } = imageOf(field, task);
  let W = Number(task.data?.image_width) || 0;
  let H = Number(task.data?.image_height) || 0;
  let boxes = [];
  let selected = -1;
  let current = labels[0].value;
  let view = { scale: 1, x: 0, y: 0 };
  let viewTouched = false;
  let space = false;
  let gesture = null;

  const labelButtons = labels.map((l, i) => {
    const b = h("button", { type: "button", class: "lh-box-label", disabled: readOnly, "aria-pressed": "false", dataset: { label: l.value } },
      h("span", { class: "lh-swatch" }), keys[i] ? kbd(keys[i]) : null, ` ${l.label || l.value}`);
    b.style.setProperty("--mark", colorOf(l.value));
    b.addEventListener("click", () => useLabel(l.value));
    return b;
  });
  const addButton = h("button", { type: "button", class: "lh-box-add", disabled: readOnly, "aria-keyshortcuts": addKey ? addKey.toUpperCase() : null },
    addKey ? hiddenKbd(addKey) : null, " New box");
  addButton.addEventListener("click", () => { addBox(); viewport.focus({ preventScroll: true }); });
  const zoomText = h("span", { class: "lh-zoom-text muted" });
  const zoomButton = (text, title, fn) => {
    const b = h("button", { type: "button", class: "lh-zoom", title, "aria-label": title, text });
    b.addEventListener("click", fn);
    return b;
  };
  const img = h("img", { class: "lh-box-img", alt: `Image ${typeof ref === "string" ? ref : ""}`, draggable: "false" });
  const layer = svg("svg", { class: "lh-box-svg" });
  const stage = h("div", { class: "lh-box-stage" }, img, layer);
  const viewport = h("div", { class: "lh-box-viewport", tabindex: "0", role: "application", "aria-label": `Image to box: ${field.title || field.name}` }, stage);
  const list = h("ol", { class: "lh-box-list", "aria-label": "Boxes" });
  const status = h("p", { class: "lh-box-status muted", "aria-live": "polite" });
  const root = h("div", { class: "lh-boxes" },
    h("div", { class: "lh-box-toolbar" },
      h("div", { class: "lh-box-labels", role: "toolbar", "aria-label": "Labels" }, ...labelButtons, addButton),
      h("div", { class: "lh-box-zoom" },
        zoomButton("−", "Zoom out (−)", () => zoomCenter(1 / 1.25)),
        zoomText,
        zoomButton("+", "Zoom in (+)", () => zoomCenter(1.25)),
        zoomButton("Fit", "Fit the image (0)", () => fit()))),
    viewport, status,
    readOnly ? null : h("p", { class: "lh-hint lh-box-keys muted" },
      ...(addKey ? [kbd(addKey), " new box · "] : []), kbd("←↑↓→"), " move (", kbd("Ctrl"), ": 10 px) · ",
      kbd("Shift"), "+", kbd("←↑↓→"), " resize · ", kbd("["), " ", kbd("]"), " select · ", kbd("Delete"), " remove · ", kbd("?"), " all keys"),
    list);
  container.append(root);

  // -- drawing ----------------------------------------------------------------------------
  function applyView() {
    stage.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    zoomText.textContent = `${Math.round(view.scale * 100)}%`;
    paint();
  }
  function fit() {
    const r = viewport.getBoundingClientRect();
    if (!W || !H || !r.width || !r.height) return;
    view = fitView(W, H, r.width, r.height);
    viewTouched = false;
    applyView();
  }
  function zoomCenter(factor) {
    const r = viewport.getBoundingClientRect();
    view = zoomAt(view, factor, r.width / 2, r.height / 2);
    viewTouched = true;
    applyView();
  }
  function paint() {
    layer.setAttribute("viewBox", `0 0 ${W || 1} ${H || 1}`);
    layer.setAttribute("width", W || 1);
    layer.setAttribute("height", H || 1);
    const nodes = [];
    const unit = 1 / view.scale;
    const drawBox = (b, index, cls) => boxShape(b, { index, cls, unit, style });
    boxes.forEach((b, i) => nodes.push(drawBox(b, i, `lh-box${i === selected ? " is-selected" : ""}`)));
    if (selected >= 0 && boxes[selected] && !readOnly) {
      for (const handle of HANDLES) {
        const p = handlePosition(boxes[selected], handle);
        const size = HANDLE_PX * unit;
        nodes.push(svg("rect", { class: `lh-handle lh-handle-${handle}`, "data-handle": handle, x: p.x - size / 2, y: p.y - size / 2, width: size, height: size }));
      }
    }
    if (gesture?.mode === "draw" && gesture.box) nodes.push(drawBox({ ...gesture.box, label: current }, -1, "lh-box is-drawing"));
    layer.replaceChildren(...nodes);
    list.replaceChildren(...boxes.map((b, i) => {
      const pick = h("button", { type: "button", class: "lh-box-item", "aria-pressed": String(i === selected) },
        h("span", { class: "lh-swatch" }), ` ${nameOf(b.label)} `, h("span", { class: "muted", text: boxPlace(b) }));
      pick.style.setProperty("--mark", colorOf(b.label));
      pick.addEventListener("click", () => select(i));
      const del = h("button", { type: "button", class: "lh-box-del", disabled: readOnly, "aria-label": `Remove box ${i + 1} (${nameOf(b.label)})`, text: "×" });
      del.addEventListener("click", () => removeBox(i));
      return h("li", {}, pick, del);
    }));
    labelButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.label === (selected >= 0 ? boxes[selected]?.label : current))));
  }

  // -- edits --------------------------------------------------------------------------------
  const valueOut = () => boxes.map((b) => {
    const r = roundBox(b);
    return { x: r.x, y: r.y, width: r.width, height: r.height, label: r.label };
  });
  function emit(message) { paint(); status.textContent = message; onChange(valueOut()); }
  function select(i) {
    selected = i >= 0 && i < boxes.length ? i : -1;
    paint();
    if (selected >= 0) status.textContent = `Box ${selected + 1} (${nameOf(boxes[selected].label)}) selected.`;
  }
  function removeBox(i) {
    if (readOnly || !boxes[i]) return;
    const gone = boxes[i];
    boxes = boxes.filter((_, k) => k !== i);
    selected = -1;
    emit(`Removed a ${nameOf(gone.label)} box.`);
  }
  function addBox() {
    if (readOnly || !W || !H) return false;
    const r = viewport.getBoundingClientRect();
    const box = newBoxIn(visibleRect(view, r.width, r.height, W, H), W, H, minSize);
    if (!box) { status.textContent = `The image is smaller than the minimum box size (${minSize} px).`; return true; }
    boxes = [...boxes, { ...box, label: current }];
    selected = boxes.length - 1;
    emit(`Added a ${nameOf(current)} box; Shift+arrows resize it, arrows move it.`);
    return true;
  }
  function growSelected(dw, dh) {
    const before = boxes[selected];
    const after = growBox(before, dw, dh, W, H, minSize);
    if (after.width === before.width && after.height === before.height) {
      status.textContent = dw > 0 || dh > 0 ? "The box already reaches the image edge." : `The box is at its minimum size (${minSize} px).`;
      return;
    }
    boxes[selected] = after;
    emit(`Resized to ${roundBox(after).width}×${roundBox(after).height}.`);
  }
  function useLabel(label) {
    if (readOnly) return;
    if (selected >= 0) {
      boxes = boxes.map((b, i) => (i === selected ? { ...b, label } : b));
      emit(`Box ${selected + 1} is now ${nameOf(label)}.`);
    } else {
      current = label;
      paint();
      status.textContent = `New boxes: ${nameOf(label)}.`;
    }
  }

  // -- pointer gestures ---------------------------------------------------------------------
  function local(event) {
    const r = viewport.getBoundingClientRect();
    return { sx: event.clientX - r.left, sy: event.clientY - r.top };
  }
  function onPointerDown(event) {
    if (!W || !H) return;
    const { sx, sy } = local(event);
    const pt = toImage(view, sx, sy);
    viewport.focus({ preventScroll: true });
    let mode;
    if (event.button === 1 || (event.button === 0 && space)) mode = "pan";
    else if (event.button !== 0) return;
    else if (readOnly) mode = "pan";
    else if (selected >= 0 && hitHandle(boxes[selected], pt, HANDLE_PX / view.scale)) mode = "resize";
    else if (hitBox(boxes, pt) >= 0) mode = "move";
    else mode = "draw";
    event.preventDefault();
    viewport.setPointerCapture(event.pointerId);
    gesture = { mode, sx, sy, pt, view: { ...view }, moved: false };
    if (mode === "resize") Object.assign(gesture, { handle: hitHandle(boxes[selected], pt, HANDLE_PX / view.scale), orig: boxes[selected] });
    if (mode === "move") { selected = hitBox(boxes, pt); gesture.orig = boxes[selected]; paint(); }
    viewport.classList.add(`is-${mode}`);
  }
  function onPointerMove(event) {
    if (!gesture) {
      if (W && H && !readOnly && selected >= 0) {
        const { sx, sy } = local(event);
        const handle = hitHandle(boxes[selected], toImage(view, sx, sy), HANDLE_PX / view.scale);
        viewport.dataset.hover = handle || "";
      }
      return;
    }
    const { sx, sy } = local(event);
    if (Math.abs(sx - gesture.sx) + Math.abs(sy - gesture.sy) >= CLICK_PX) gesture.moved = true;
    const pt = toImage(gesture.mode === "pan" ? gesture.view : view, sx, sy);
    if (gesture.mode === "pan") {
      view = { ...gesture.view, x: gesture.view.x + sx - gesture.sx, y: gesture.view.y + sy - gesture.sy };
      viewTouched = true;
      applyView();
      return;
    }
    if (!gesture.moved) return;
    if (gesture.mode === "draw") gesture.box = rectFromPoints(gesture.pt, pt, W, H);
    else if (gesture.mode === "move") boxes[selected] = moveBox(gesture.orig, pt.x - gesture.pt.x, pt.y - gesture.pt.y, W, H);
    else if (gesture.mode === "resize") boxes[selected] = resizeBox(gesture.orig, gesture.handle, pt, W, H, minSize);
    paint();
  }
  function onPointerUp() {
    if (!gesture) return;
    const g = gesture;
    gesture = null;
    viewport.classList.remove("is-pan", "is-draw", "is-move", "is-resize");
    if (g.mode === "pan") return;
    if (g.mode === "draw") {
      if (g.moved && g.box && g.box.width >= minSize && g.box.height >= minSize) {
        boxes = [...boxes, { ...g.box, label: current }];
        selected = boxes.length - 1;
        emit(`Added a ${nameOf(current)} box.`);
      } else {
        select(-1);
      }
      return;
    }
    if (g.moved) emit(g.mode === "move" ? "Moved." : "Resized.");
    else select(selected);
  }
  function onWheel(event) {
    if (!W || !H) return;
    event.preventDefault();
    const { sx, sy } = local(event);
    view = zoomAt(view, Math.exp(-event.deltaY * 0.0015), sx, sy);
    viewTouched = true;
    applyView();
  }
  const onKeyUp = (event) => { if (event.key === " ") { space = false; viewport.classList.remove("is-space"); } };
  viewport.addEventListener("pointerdown", onPointerDown);
  viewport.addEventListener("pointermove", onPointerMove);
  viewport.addEventListener("pointerup", onPointerUp);
  viewport.addEventListener("pointercancel", onPointerUp);
  viewport.addEventListener("wheel", onWheel, { passive: false });
  viewport.addEventListener("auxclick", (e) => e.preventDefault());
  window.addEventListener("keyup", onKeyUp);
  const resizeObserver = new ResizeObserver(() => { if (!viewTouched) fit(); });
  resizeObserver.observe(viewport);

  img.addEventListener("load", () => {
    W = W || img.naturalWidth;
    H = H || img.naturalHeight;
    img.width = W;
    img.height = H;
    root.classList.add("is-loaded");
    fit();
  });
  img.addEventListener("error", () => { status.textContent = `The image “${ref}” could not be loaded.`; });
  if (W && H) { img.width = W; img.height = H; }
  if (src) img.src = src;
  else status.textContent = `This task has no uploaded image under “${field.image || "image"}”.`;

  function set(v) {
    const count = boxes.length;
    boxes = Array.isArray(v)
      ? v.filter((b) => b && ["x", "y", "width", "height"].every((k) => Number.isFinite(b[k])) && typeof b.label === "string")
        .map((b) => ({ x: b.x, y: b.y, width: b.width, height: b.height, label: b.label }))
      : [];
    // Undo of a move/resize/relabel keeps the box selected, so the keys go on working on it.
    if (boxes.length !== count) selected = -1;
    paint();
  }
  set(value);
  applyView();

  return {
    getValue: valueOut,
    setValue: set,
    handleKey(event) {
      if (event.altKey) return false; // Alt+↑/↓ move between fields (the page's)
      const key = event.key;
      const big = event.ctrlKey || event.metaKey; // Ctrl/⌘ + arrows: 10 px steps
      if (key.startsWith("Arrow")) {
        const dx = key === "ArrowLeft" ? -1 : key === "ArrowRight" ? 1 : 0;
        const dy = key === "ArrowUp" ? -1 : key === "ArrowDown" ? 1 : 0;
        const step = big ? 10 : 1;
        if (selected >= 0 && !readOnly && W && H) {
          if (event.shiftKey) growSelected(dx * step, dy * step);
          else {
            boxes[selected] = moveBox(boxes[selected], dx * step, dy * step, W, H);
            emit("Moved.");
          }
        } else {
          view = { ...view, x: view.x - dx * 40, y: view.y - dy * 40 };
          viewTouched = true;
          applyView();
        }
        return true;
      }
      if (big) return false;
      if (key === " ") { space = true; viewport.classList.add("is-space"); return true; }
      if (key === "+" || key === "=") { zoomCenter(1.25); return true; }
      if (key === "-" || key === "_") { zoomCenter(1 / 1.25); return true; }
      if (key === "0") { fit(); return true; }
      if (addKey && key.toLowerCase() === addKey && !readOnly) return addBox();
      if (key === "]" || key === "[") {
        if (!boxes.length) return false;
        select(selected < 0 ? (key === "]" ? 0 : boxes.length - 1) : (selected + (key === "]" ? 1 : -1) + boxes.length) % boxes.length);
        return true;
      }
      if (key === "Escape") {
        if (selected < 0) return false;
        select(-1);
        return true;
      }
      if ((key === "Delete" || key === "Backspace") && selected >= 0 && !readOnly) { removeBox(selected); return true; }
      const i = optionForKey(keys, key);
      if (i < 0 || readOnly) return false;
      useLabel(labels[i].value);
      return true;
    },
    focus() { viewport.focus({ preventScroll: true }); },
    destroy() {
      resizeObserver.disconnect();
      window.removeEventListener("keyup", onKeyUp);
      root.remove();
    },
  };
}

const isBox = (b) => b && ["x", "y", "width", "height"].every((k) => Number.isFinite(b[k])) && typeof b.label === "string";
const boxPlace = (b) => {
  const r = roundBox(b);
  return `${r.x}, ${r.y} · ${r.width}×${r.height}`;
};

/**
 * Draw a stored answer read-only: the image scaled to fit `maxWidth` × `maxHeight` (never
 * enlarged) with every box drawn on it and tagged with its label, and the boxes listed.
 * With `compare` (e.g. the most common answer), boxes it lacks are marked.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, value: object[]|null, compare?: object[]|null, maxWidth?: number, maxHeight?: number}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, task, value, compare, maxWidth = 640, maxHeight = 480 }) {
  if (!Array.isArray(value)) return displayRoot(container, "boxes", notAnswered());
  const style = optionStyle(field.labels, PALETTE);
  const extra = compare === undefined ? new Set() : itemsNotIn(value, compare);
  const boxes = value.map((b, i) => ({ ...b, differs: extra.has(i) })).filter(isBox);
  const { ref, src } = imageOf(field, task);
  let W = Number(task?.data?.image_width) || 0;
  let H = Number(task?.data?.image_height) || 0;
  const img = h("img", { class: "lh-d-box-img", alt: `Image ${typeof ref === "string" ? ref : ""}`, draggable: "false" });
  const layer = svg("svg", { class: "lh-box-svg lh-d-box-svg", preserveAspectRatio: "none", "aria-hidden": "true" });
  const stage = h("div", { class: "lh-d-box-stage" }, img, layer);
  const status = h("p", { class: "lh-box-status muted", hidden: true });
  const say = (text) => { status.textContent = text; status.hidden = false; };
  const list = h("ol", { class: "lh-d-box-list", "aria-label": "Boxes" }, ...boxes.map((b, i) => {
    const item = h("li", { class: b.differs ? "is-differs" : "", dataset: { index: String(i), label: b.label } },
      h("span", { class: "lh-swatch", "aria-hidden": "true" }), ` ${style.nameOf(b.label)} `, h("span", { class: "muted", text: boxPlace(b) }));
    item.style.setProperty("--mark", style.colorOf(b.label));
    return item;
  }));
  let shownWidth = 0; // on screen: the page's CSS may shrink the image further
  function draw() {
    if (!W || !H) return;
    const { scale } = fitView(W, H, maxWidth, maxHeight, 1);
    img.width = Math.round(W * scale);
    img.height = Math.round(H * scale);
    layer.setAttribute("viewBox", `0 0 ${W} ${H}`);
    layer.setAttribute("width", img.width);
    layer.setAttribute("height", img.height);
    const unit = W / (shownWidth || img.width); // one screen pixel, in image pixels
    layer.replaceChildren(...boxes.map((b, i) => boxShape(b, { index: i, cls: `lh-box${b.differs ? " is-differs" : ""}`, unit, style })));
  }
  const resized = new ResizeObserver(() => {
    const width = img.getBoundingClientRect().width;
    if (width && Math.abs(width - shownWidth) > 0.5) {
      shownWidth = width;
      draw();
    }
  });
  resized.observe(img);
  img.addEventListener("load", () => {
    W = W || img.naturalWidth;
    H = H || img.naturalHeight;
    draw();
  });
  img.addEventListener("error", () => say(`The image “${ref}” could not be loaded.`));
  if (src) img.src = src;
  else {
    stage.hidden = true;
    say(`No uploaded image under “${field.image || "image"}” to draw the boxes on.`);
  }
  draw();
  const shown = displayRoot(container, "boxes", stage, status,
    boxes.length ? list : h("p", { class: "lh-d-none muted", text: "no boxes" }));
  return { root: shown.root, destroy() { resized.disconnect(); shown.destroy(); } };
}

/**
 * Boxes added, removed, moved, resized or relabelled between two stored answers.
 * @param {object} field
 * @param {object[]|null} before
 * @param {object[]|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  const { nameOf } = optionStyle(field.labels, PALETTE);
  const describe = (b) => `${nameOf(b.label)} at ${boxPlace(b)}`;
  const d = diffList((before || []).filter(isBox), (after || []).filter(isBox), (a, b) => overlapRatio(a, b) >= 0.5);
  return {
    inline: false,
    items: [
      ...d.changed.map(({ from, to }) => {
        let text;
        if (boxPlace(from) === boxPlace(to)) text = `${nameOf(from.label)} → ${nameOf(to.label)} at ${boxPlace(to)}`;
        else if (from.label === to.label) text = `${nameOf(to.label)}: ${boxPlace(from)} → ${boxPlace(to)}`;
        else text = `${describe(from)} → ${describe(to)}`;
        return { op: "changed", text };
      }),
      ...d.removed.map((b) => ({ op: "removed", text: describe(b) })),
      ...d.added.map((b) => ({ op: "added", text: describe(b) })),
    ],
  };
}
