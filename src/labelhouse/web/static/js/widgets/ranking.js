// Ranking: order the responses best → worst by dragging (the ⠿ handle) or with keys: a
// number picks the item at that position, ↑/↓ move it, T ties it with the one above (when
// the field allows ties), Enter accepts the order as shown. The first order is shuffled per
// task; nothing counts as answered until the annotator moved something or pressed Enter.
import { clip } from "./lib/diff.js";
import { displayRoot, notAnswered, replaced, undrawable } from "./lib/display.js";
import { h, isPlain, kbd } from "./lib/dom.js";
import { seededOrder } from "./lib/random.js";
import { dropItem, flatten, groupsFromRanks, moveItem, ranksFromGroups, tieWithAbove } from "./lib/ranking.js";
import { isGenerated, promptBlock, responseBody, responseTexts } from "./lib/responses.js";

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "ranking")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const out = [["1…9", "pick the response at that position"], ["↑/↓", "move it up (better) / down (worse)"]];
  if (field.allow_ties) out.push(["T", "tie it with the response above"]);
  out.push(["Enter", "accept the order as shown"], ["Escape", "drop the pick"]);
  return out;
}

/**
 * Mount a ranking widget. Value: one rank per response in the task's order (1 = best,
 * dense), or null until the annotator has ranked.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, rendered?: object, value?: number[]|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, task, rendered, value = null, readOnly = false, onChange = () => {} }) {
  const allowTies = Boolean(field.allow_ties);
  const texts = responseTexts(field, task);
  const n = texts.length;
  const shuffled = seededOrder(n, `${task.id}:${field.name}`).map((i) => [i]);
  let groups = shuffled;
  let touched = false;
  let selected = null;

  const root = h("div", { class: "lh-ranking" });
  const prompt = promptBlock(field, task, rendered);
  if (prompt) root.append(prompt);
  const list = h("ol", { class: "lh-rank-list", "aria-label": field.title || field.name });
  const status = h("p", { class: "lh-rank-status muted", "aria-live": "polite" });
  const accept = h("button", { type: "button", class: "lh-rank-accept", disabled: readOnly }, kbd("Enter"), " Keep this order");
  accept.addEventListener("click", () => commit(groups));
  root.append(list, h("div", { class: "lh-rank-foot" }, accept, status));
  container.append(root);

  const items = texts.map((text, i) => {
    const handle = h("button", { type: "button", class: "lh-rank-handle", "aria-label": "Drag to reorder", title: "Drag to reorder", disabled: readOnly, text: "⠿" });
    const position = h("kbd", { class: "lh-rank-pos" });
    const badge = h("span", { class: "lh-rank-badge" });
    const el = h("div", { class: "lh-rank-item", dataset: { responseIndex: String(i) } },
      handle, h("div", { class: "lh-rank-side" }, badge, position), responseBody(text, rendered?.responses?.[i], isGenerated(field, task, i)));
    el.addEventListener("click", (e) => { if (!readOnly && !e.target.closest("a")) select(i); });
    handle.addEventListener("pointerdown", (e) => startDrag(e, i));
    return { el, badge, position, handle };
  });

  // Re-appending the items (below) takes the focus away from a handle, and a focused
  // "Keep this order" button is hidden once ranked: give the focus back (to the picked
  // response when there is one), or the next Tab would start again at the page's top.
  function refocus(had) {
    if (!had) return;
    const visible = had.isConnected && !had.closest("[hidden]");
    const target = selected !== null ? items[selected].handle : visible ? had : list.querySelector(".lh-rank-handle");
    if (target && document.activeElement !== target) target.focus({ preventScroll: true });
  }

  function paint() {
    const had = root.contains(document.activeElement) ? document.activeElement : null;
    const flat = flatten(groups);
    list.replaceChildren(...groups.map((group, g) => {
      const li = h("li", { class: `lh-rank-group${group.length > 1 ? " is-tied" : ""}`, dataset: { rank: String(g + 1) } });
      for (const i of group) {
        const it = items[i];
        it.badge.textContent = touched ? `#${g + 1}${group.length > 1 ? " (tie)" : ""}` : "";
        it.position.textContent = flat.indexOf(i) < 9 ? String(flat.indexOf(i) + 1) : "";
        it.handle.setAttribute("aria-label", `Response at position ${flat.indexOf(i) + 1}: pick, then ↑/↓ to move it`);
        it.handle.setAttribute("aria-pressed", String(selected === i));
        it.el.classList.toggle("is-selected", selected === i);
        li.append(it.el);
      }
      return li;
    }));
    root.classList.toggle("is-untouched", !touched);
    accept.hidden = touched;
    refocus(had);
  }
  function commit(next, message = "") {
    groups = next;
    touched = true;
    paint();
    status.textContent = message;
    onChange(ranksFromGroups(groups, n));
  }
  function select(i) {
    selected = selected === i ? null : i;
    paint();
    if (selected !== null) status.textContent = `Picked response at position ${flatten(groups).indexOf(i) + 1}; ↑/↓ move it.`;
  }
  function set(v) {
    const ok = Array.isArray(v) && v.length === n && v.every((r) => Number.isInteger(r) && r >= 1);
    groups = ok ? groupsFromRanks(v) : shuffled;
    if (!allowTies && ok) groups = groups.flatMap((g) => g.map((i) => [i]));
    touched = ok;
    selected = null;
    paint();
  }
  set(value);

  // -- dragging (pointer events: mouse, pen and touch alike) ------------------------------
  let drag = null;
  function startDrag(event, i) {
    if (readOnly || event.button !== 0) return;
    event.preventDefault();
    const el = items[i].el;
    el.setPointerCapture(event.pointerId);
    drag = { i, el, y0: event.clientY, target: null, where: null };
    el.classList.add("is-dragging");
    el.addEventListener("pointermove", onDragMove);
    el.addEventListener("pointerup", onDragEnd);
    el.addEventListener("pointercancel", onDragEnd);
  }
  function dropTarget(clientY) {
    for (const it of items) {
      if (it.el === drag.el) continue;
      const r = it.el.getBoundingClientRect();
      if (clientY < r.top || clientY > r.bottom) continue;
      const f = (clientY - r.top) / r.height;
      const where = allowTies ? (f < 0.3 ? "before" : f > 0.7 ? "after" : "tie") : f < 0.5 ? "before" : "after";
      return { target: Number(it.el.dataset.responseIndex), where };
    }
    return { target: null, where: null };
  }
  function onDragMove(event) {
    drag.el.style.transform = `translateY(${event.clientY - drag.y0}px)`;
    const { target, where } = dropTarget(event.clientY);
    for (const it of items) it.el.classList.remove("drop-before", "drop-after", "drop-tie");
    if (target !== null) items[target].el.classList.add(`drop-${where}`);
    drag.target = target;
    drag.where = where;
  }
  function onDragEnd() {
    const { el, i, target, where } = drag;
    el.classList.remove("is-dragging");
    el.style.transform = "";
    for (const it of items) it.el.classList.remove("drop-before", "drop-after", "drop-tie");
    el.removeEventListener("pointermove", onDragMove);
    el.removeEventListener("pointerup", onDragEnd);
    el.removeEventListener("pointercancel", onDragEnd);
    drag = null;
    if (target !== null) commit(dropItem(groups, i, target, where), where === "tie" ? "Tied." : "Moved.");
  }

  return {
    getValue: () => (touched ? ranksFromGroups(groups, n) : null),
    setValue: set,
    handleKey(event) {
      if (readOnly || !isPlain(event)) return false;
      const key = event.key;
      if (/^[1-9]$/.test(key)) {
        const item = flatten(groups)[Number(key) - 1];
        if (item === undefined) return false;
        select(item);
        return true;
      }
      if (key === "Enter" && !touched) { commit(groups, "Order kept."); return true; }
      // ↑/↓ on a focused handle move that response, picked or not
      const onHandle = items.findIndex((it) => it.handle === event.target);
      if (selected === null && onHandle >= 0 && (key === "ArrowUp" || key === "ArrowDown")) select(onHandle);
      if (selected === null) return false;
      if (key === "ArrowUp" || key === "ArrowDown") {
        commit(moveItem(groups, selected, key === "ArrowUp" ? -1 : 1), "Moved.");
        items[selected].el.scrollIntoView({ block: "nearest" });
        return true;
      }
      if ((key === "t" || key === "T" || key === "=") && allowTies) { commit(tieWithAbove(groups, selected), "Tied."); return true; }
      if (key === "Escape") { selected = null; paint(); return true; }
      return false;
    },
    focus() { list.querySelector(".lh-rank-handle")?.focus({ preventScroll: true }); },
    destroy() { root.remove(); },
  };
}

const isRanks = (v, n) => Array.isArray(v) && v.length === n && v.every((r) => Number.isInteger(r) && r >= 1);

/**
 * Draw a stored answer read-only: the responses best first, each with its rank; tied
 * responses share one rank.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, rendered?: object, value: number[]|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, task, rendered, value }) {
  const texts = responseTexts(field, task);
  if (value === null || value === undefined) return displayRoot(container, "ranking", notAnswered());
  if (!isRanks(value, texts.length)) {
    return displayRoot(container, "ranking", undrawable(`ranks that do not fit this task's ${texts.length} responses`, value));
  }
  const groups = groupsFromRanks(value);
  return displayRoot(container, "ranking", h("ol", { class: "lh-rank-list", "aria-label": field.title || field.name },
    ...groups.map((group, g) => h("li", { class: `lh-rank-group${group.length > 1 ? " is-tied" : ""}`, dataset: { rank: String(g + 1) } },
      ...group.map((i) => h("div", { class: "lh-rank-item", dataset: { responseIndex: String(i) } },
        h("div", { class: "lh-rank-side" }, h("span", { class: "lh-rank-badge", text: `#${g + 1}${group.length > 1 ? " (tie)" : ""}` })),
        responseBody(texts[i] ?? "", rendered?.responses?.[i], isGenerated(field, task, i))))))));
}

/**
 * How the order changed between two stored answers: each response whose rank moved.
 * @param {object} field
 * @param {number[]|null} before
 * @param {number[]|null} after
 * @param {object} task
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after, task) {
  const texts = responseTexts(field, task);
  const n = texts.length;
  const ok = (v) => (isRanks(v, n) ? v : null);
  const name = (i) => `“${clip(texts[i], 40)}”`;
  if (!ok(before) || !ok(after)) {
    return replaced(ok(before), ok(after), (v) => groupsFromRanks(v).map((g, k) => `#${k + 1} ${g.map(name).join(" = ")}`).join(", "));
  }
  const items = [];
  groupsFromRanks(after).flat().forEach((i) => {
    if (before[i] !== after[i]) items.push({ op: "changed", text: `${name(i)}: #${before[i]} → #${after[i]}` });
  });
  return { inline: false, items };
}
