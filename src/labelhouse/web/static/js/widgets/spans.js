// Spans (NER and the like): select text with the mouse — or move the caret with ←/→ and
// extend with Shift (Ctrl for whole words) — then press a label's key or click the label.
// Marks are coloured by label; click a mark (or its tag) to remove it. With no selection,
// a label chosen first stays armed and labels every following mouse selection.
// Offsets are stored as code points (the server's str indices); see lib/spans.js.
import { sourceText as chatText } from "./lib/chat.js";
import { clip, diffList, itemsNotIn } from "./lib/diff.js";
import { PALETTE, displayRoot, notAnswered, optionStyle } from "./lib/display.js";
import { h, isPlain, kbd } from "./lib/dom.js";
import { assignKeys, optionForKey } from "./lib/keys.js";
import { addSpan, charStep, cleanRange, offsetConverter, segments, sortSpans, spanAt, wordStep } from "./lib/spans.js";

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "spans")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const keys = assignKeys(field.labels);
  return [
    ...field.labels.flatMap((l, i) => (keys[i] ? [[keys[i], `label the selection “${l.label || l.value}”`]] : [])),
    ["←/→", "move the caret (Ctrl: by word)"], ["Shift+←/→", "select (Ctrl+Shift: by word)"],
    ["Home", "caret to the start (End: to the end)"], ["Delete", "remove the mark under the caret"], ["Escape", "drop the selection"],
  ];
}

/**
 * Mount a spans widget. Value: [{start, end, label, text}] sorted by start, end, label,
 * with code-point offsets (end exclusive); [] means "nothing to mark".
 * @param {HTMLElement} container
 * @param {{field: object, task: object, value?: object[]|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, task, value = null, readOnly = false, onChange = () => {} }) {
  const source = sourceText(field, task);
  const text = source ?? "";
  const conv = offsetConverter(text);
  const labels = field.labels;
  const keys = assignKeys(labels);
  const { colorOf, nameOf } = optionStyle(labels, PALETTE);
  let spans = []; // UTF-16 offsets
  let pending = null;
  let caret = 0;
  let anchor = null;
  let armed = null;

  const root = h("div", { class: "lh-spans" });
  const buttons = labels.map((l, i) => {
    const b = h("button", { type: "button", class: "lh-span-label", disabled: readOnly, "aria-pressed": "false", dataset: { label: l.value } },
      h("span", { class: "lh-swatch" }), keys[i] ? kbd(keys[i]) : null, ` ${l.label || l.value}`);
    b.style.setProperty("--mark", colorOf(l.value));
    b.addEventListener("mousedown", (e) => e.preventDefault()); // keep the text selection
    b.addEventListener("click", () => applyLabel(l.value, true));
    return b;
  });
  const textEl = h("div", { class: "lh-span-text", tabindex: "0", role: "region", "aria-label": `Text to mark: ${field.title || field.name}` });
  const list = h("ul", { class: "lh-span-list", "aria-label": "Marked spans" });
  const status = h("p", { class: "lh-span-status muted", "aria-live": "polite" });
  root.append(h("div", { class: "lh-span-labels", role: "toolbar", "aria-label": "Labels" }, ...buttons), textEl, status, list);
  container.append(root);
  if (source === null) status.textContent = `This task has no text under “${field.source || "text"}”.`;
  else if (Number.isInteger(field.message)) textEl.setAttribute("aria-label", `Message to mark: ${field.title || field.name}`);

  function paint() {
    const cuts = pending ? [] : [caret];
    const parts = [];
    for (const seg of segments(text.length, spans, pending, cuts)) {
      if (!pending && seg.start === caret) parts.push(h("span", { class: "lh-caret", "aria-hidden": "true" }));
      const el = h("span", { class: "lh-seg", dataset: { s: String(seg.start), e: String(seg.end) }, text: text.slice(seg.start, seg.end) });
      if (seg.covers.length) {
        const inner = spans[seg.covers[seg.covers.length - 1]];
        el.classList.add("is-marked");
        el.style.setProperty("--mark", colorOf(inner.label));
        if (seg.covers.length > 1) {
          el.classList.add("is-overlap");
          el.style.setProperty("--mark-outer", colorOf(spans[seg.covers[0]].label));
        }
      }
      if (seg.pending) el.classList.add("is-pending");
      parts.push(el);
      spans.forEach((s, i) => {
        if (s.end !== seg.end) return;
        const tag = h("span", { class: "lh-span-tag", dataset: { span: String(i), pos: String(s.end) }, title: "Click to remove", text: s.label });
        tag.style.setProperty("--mark", colorOf(s.label));
        parts.push(tag);
      });
    }
    if (!pending && caret === text.length) parts.push(h("span", { class: "lh-caret", "aria-hidden": "true" }));
    textEl.replaceChildren(...parts);
    list.replaceChildren(...spans.map((s, i) => {
      const b = h("button", { type: "button", class: "lh-span-chip", disabled: readOnly, "aria-label": `Remove ${nameOf(s.label)}: ${text.slice(s.start, s.end)}` },
        h("span", { class: "lh-swatch" }), `${text.slice(s.start, s.end)} `, h("span", { class: "muted", text: nameOf(s.label) }), " ×");
      b.style.setProperty("--mark", colorOf(s.label));
      b.addEventListener("click", () => remove(i));
      return h("li", {}, b);
    }));
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.label === armed)));
  }

  const valueOut = () => sortSpans(spans.map((s) => ({ start: conv.toCodePoint(s.start), end: conv.toCodePoint(s.end), label: s.label })))
    .map((s) => ({ ...s, text: text.slice(conv.toUtf16(s.start), conv.toUtf16(s.end)) }));
  function emit(message) { paint(); status.textContent = message; onChange(valueOut()); }

  function applyLabel(label, fromClick = false) {
    if (readOnly) return false;
    if (pending) pending = cleanRange(text, pending.start, pending.end); // no edge spaces
    if (pending && pending.end > pending.start) {
      const result = addSpan(spans, { ...pending, label }, Boolean(field.allow_overlap));
      if (result.error) {
        const o = result.error.other;
        status.textContent = result.error.reason === "overlap"
          ? `That overlaps “${text.slice(o.start, o.end)}” (${nameOf(o.label)}); this field does not allow overlapping spans.`
          : "That span is already marked.";
        return true;
      }
      const added = { ...pending, label };
      spans = result.spans;
      caret = pending.end;
      pending = null;
      anchor = null;
      emit(`Marked “${text.slice(added.start, added.end)}” as ${nameOf(label)}.`);
      return true;
    }
    const at = spanAt(spans, caret);
    if (!fromClick && at >= 0 && spans[at].label !== label) {
      spans = sortSpans(spans.map((s, i) => (i === at ? { ...s, label } : s)));
      emit(`Changed to ${nameOf(label)}.`);
      return true;
    }
    if (fromClick) {
      armed = armed === label ? null : label;
      paint();
      status.textContent = armed ? `${nameOf(armed)} is armed: every selection you make gets it. Click it again to stop.` : "";
      return true;
    }
    status.textContent = "Select some text first (drag with the mouse, or Shift+→).";
    return true;
  }
  function remove(i) {
    if (readOnly || !spans[i]) return;
    const s = spans[i];
    spans = spans.filter((_, k) => k !== i);
    emit(`Removed “${text.slice(s.start, s.end)}” (${nameOf(s.label)}).`);
  }

  // -- mouse --------------------------------------------------------------------------------
  function offsetOf(node, offset) {
    const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    if (el === textEl) {
      for (let k = offset; k < textEl.childNodes.length; k += 1) {
        const c = textEl.childNodes[k];
        if (c.dataset?.s) return Number(c.dataset.s);
      }
      return text.length;
    }
    if (el?.classList.contains("lh-seg")) {
      const start = Number(el.dataset.s);
      return node.nodeType === Node.TEXT_NODE ? start + offset : offset ? Number(el.dataset.e) : start;
    }
    if (el?.dataset.pos) return Number(el.dataset.pos);
    return null;
  }
  function onMouseUp(event) {
    if (readOnly) return;
    const sel = window.getSelection();
    const tag = event.target.closest?.(".lh-span-tag");
    if (tag && (!sel || sel.isCollapsed)) { remove(Number(tag.dataset.span)); return; }
    if (!sel || sel.rangeCount === 0) return;
    if (sel.isCollapsed) {
      const pos = offsetOf(sel.anchorNode, sel.anchorOffset);
      const seg = event.target.closest?.(".lh-seg.is-marked");
      if (seg && pos !== null) {
        const i = spanAt(spans, Math.min(pos, Number(seg.dataset.e) - 1));
        if (i >= 0) { remove(i); return; }
      }
      if (pos !== null) { caret = pos; pending = null; anchor = null; paint(); }
      return;
    }
    if (!textEl.contains(sel.anchorNode) || !textEl.contains(sel.focusNode)) return;
    const a = offsetOf(sel.anchorNode, sel.anchorOffset);
    const b = offsetOf(sel.focusNode, sel.focusOffset);
    sel.removeAllRanges();
    if (a === null || b === null) return;
    const range = cleanRange(text, a, b);
    if (range.end <= range.start) return;
    pending = range;
    anchor = null;
    if (armed) { applyLabel(armed); return; }
    paint();
    status.textContent = `Selected “${text.slice(range.start, range.end)}”: press a label key or click a label.`;
  }
  let pressed = false;
  const onMouseDown = () => { pressed = true; };
  const onDocMouseUp = (event) => { if (pressed) { pressed = false; onMouseUp(event); } };
  textEl.addEventListener("mousedown", onMouseDown);
  document.addEventListener("mouseup", onDocMouseUp);

  // -- keyboard -------------------------------------------------------------------------------
  function moveCaret(event) {
    const dir = event.key === "ArrowLeft" || event.key === "Home" ? -1 : 1;
    const step = (p) => (event.key === "Home" ? 0 : event.key === "End" ? text.length
      : event.ctrlKey || event.metaKey ? wordStep(text, p, dir) : charStep(text, p, dir));
    if (event.shiftKey) {
      if (anchor === null) {
        // Extending a mouse selection moves its end; otherwise the caret starts one.
        if (pending) { anchor = pending.start; caret = pending.end; } else anchor = caret;
      }
      caret = step(caret);
      const r = { start: Math.min(anchor, caret), end: Math.max(anchor, caret) };
      pending = r.end > r.start ? r : null;
    } else {
      const collapse = pending && (event.key === "ArrowLeft" || event.key === "ArrowRight") && !event.ctrlKey;
      caret = collapse ? (dir > 0 ? pending.end : pending.start) : step(caret);
      pending = null;
      anchor = null;
    }
    paint();
    status.textContent = pending ? `Selected “${text.slice(pending.start, pending.end)}”.` : "";
  }

  function set(v) {
    spans = [];
    if (Array.isArray(v)) {
      for (const s of v) {
        if (!s || typeof s.label !== "string" || !Number.isInteger(s.start) || !Number.isInteger(s.end)) continue;
        const start = conv.toUtf16(s.start);
        const end = conv.toUtf16(s.end);
        if (start < end && end <= text.length) spans.push({ start, end, label: s.label });
      }
    }
    spans = sortSpans(spans);
    pending = null;
    anchor = null;
    paint();
  }
  set(value);

  return {
    getValue: valueOut,
    setValue: set,
    handleKey(event) {
      if (readOnly || event.altKey) return false;
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) { moveCaret(event); return true; }
      if (!isPlain(event)) return false;
      if (event.key === "Escape") {
        if (!pending && !armed) return false;
        pending = null; anchor = null; armed = null; paint(); status.textContent = "";
        return true;
      }
      if (event.key === "Delete" || event.key === "Backspace") {
        const i = spanAt(spans, pending ? pending.start : caret);
        if (i < 0) return false;
        remove(i);
        return true;
      }
      const i = optionForKey(keys, event.key);
      if (i < 0) return false;
      return applyLabel(labels[i].value);
    },
    focus() { textEl.focus({ preventScroll: true }); },
    destroy() { document.removeEventListener("mouseup", onDocMouseUp); root.remove(); },
  };
}

// The text spans are marked in: data[source], or with `message` set, that chat message.
const sourceText = (field, task) => chatText(task, field.source || "text", field.message);
const isSpan = (s) => s && typeof s.label === "string" && Number.isInteger(s.start) && Number.isInteger(s.end) && s.start < s.end;

/** A label's tag, drawn after the end of its span (as the annotate widget draws it). */
function spanTag(style, label) {
  const tag = h("span", { class: "lh-span-tag", text: style.nameOf(label) });
  tag.style.setProperty("--mark", style.colorOf(label));
  return tag;
}

/**
 * Draw a stored answer read-only: the source text with each span highlighted in its
 * label's colour and tagged with the label's name. With `compare` (e.g. the most common
 * answer), spans it lacks are marked. Without the text (not shown to this person), the
 * spans are listed with the text they store.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, value: object[]|null, compare?: object[]|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, task, value, compare }) {
  if (!Array.isArray(value)) return displayRoot(container, "spans", notAnswered());
  const style = optionStyle(field.labels, PALETTE);
  const extra = compare === undefined ? new Set() : itemsNotIn(value, compare);
  const text = sourceText(field, task);
  const given = value.map((s, i) => ({ ...s, differs: extra.has(i) })).filter(isSpan);
  const note = given.length ? null : h("p", { class: "lh-d-none muted", text: "nothing marked" });
  if (text === null) {
    return displayRoot(container, "spans", note, h("ul", { class: "lh-d-span-list" }, ...given.map((s) => {
      const mark = h("mark", { class: `lh-d-mark${s.differs ? " is-differs" : ""}`, dataset: { label: s.label }, text: String(s.text ?? "") });
      mark.style.setProperty("--mark", style.colorOf(s.label));
      return h("li", {}, mark, spanTag(style, s.label));
    })));
  }
  const conv = offsetConverter(text);
  const spans = sortSpans(given.map((s) => ({ ...s, start: conv.toUtf16(s.start), end: conv.toUtf16(s.end) }))
    .filter((s) => s.end <= text.length));
  const parts = [];
  for (const seg of segments(text.length, spans)) {
    const piece = text.slice(seg.start, seg.end);
    if (!seg.covers.length) parts.push(piece);
    else {
      const covering = seg.covers.map((i) => spans[i]);
      const inner = covering[covering.length - 1];
      const mark = h("mark", {
        class: "lh-d-mark",
        dataset: { label: inner.label, start: String(conv.toCodePoint(seg.start)), end: String(conv.toCodePoint(seg.end)) },
        title: covering.map((s) => style.nameOf(s.label)).join(" in "),
        text: piece,
      });
      mark.style.setProperty("--mark", style.colorOf(inner.label));
      if (covering.length > 1) {
        mark.classList.add("is-overlap");
        mark.style.setProperty("--mark-outer", style.colorOf(covering[0].label));
      }
      if (covering.some((s) => s.differs)) mark.classList.add("is-differs");
      parts.push(mark);
    }
    for (const s of spans) if (s.end === seg.end) parts.push(spanTag(style, s.label));
  }
  return displayRoot(container, "spans", note, h("div", { class: "lh-span-text lh-d-span-text" }, ...parts));
}

/**
 * Spans added, removed, relabelled or resized between two stored answers (a revision
 * diff), in text order.
 * @param {object} field
 * @param {object[]|null} before
 * @param {object[]|null} after
 * @param {object} [task] for the marked text of spans that do not store it
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after, task) {
  const { nameOf } = optionStyle(field.labels, PALETTE);
  const text = sourceText(field, task);
  const marked = (s) => (typeof s.text === "string" ? s.text : text === null ? `${s.start}–${s.end}` : [...text].slice(s.start, s.end).join(""));
  const describe = (s) => `“${clip(marked(s))}” (${nameOf(s.label)})`;
  const d = diffList((before || []).filter(isSpan), (after || []).filter(isSpan), (a, b) => a.start < b.end && b.start < a.end);
  const items = [
    ...d.removed.map((s) => ({ at: s.start, op: "removed", text: describe(s) })),
    ...d.added.map((s) => ({ at: s.start, op: "added", text: describe(s) })),
    ...d.changed.map(({ from, to }) => ({
      at: to.start,
      op: "changed",
      text: from.start === to.start && from.end === to.end
        ? `“${clip(marked(to))}”: ${nameOf(from.label)} → ${nameOf(to.label)}`
        : `${describe(from)} → ${describe(to)}`,
    })),
  ];
  return { inline: false, items: items.sort((a, b) => a.at - b.at).map(({ op, text: t }) => ({ op, text: t })) };
}
