// Stored answers on the review, task and "My submissions" pages: each field's value drawn
// by its kind's widget module in display mode (`display()`), and an answer's revisions as
// what changed (`changes()`). No second rendering of any kind lives here.
import { sameValue } from "./diff.js";
import { changeView, displayRoot, notAnswered } from "./display.js";
import { h } from "./dom.js";
import { WIDGET_KINDS, loadWidget } from "./load.js";

/**
 * The widget modules of the fields' kinds, loaded once each.
 * @param {object[]} fields schema fields
 * @returns {Promise<Map<string, object>>} kind → module (unknown kinds are left out)
 */
export async function loadModules(fields) {
  const kinds = [...new Set(fields.map((f) => f.kind))].filter((k) => WIDGET_KINDS.includes(k));
  const loaded = await Promise.all(kinds.map((k) => loadWidget(k)));
  return new Map(kinds.map((k, i) => [k, loaded[i]]));
}

/** A value no widget draws (a field gone from the schema): its JSON, as text. */
function rawValue(container, value) {
  return displayRoot(container, "raw", value === null || value === undefined ? notAnswered()
    : h("span", { class: "lh-d-raw", text: typeof value === "string" ? value : JSON.stringify(value) }));
}

/**
 * Draw one field's stored value read-only with its widget module's display mode.
 * @param {HTMLElement} container
 * @param {object|undefined} module the field kind's widget module
 * @param {{field: object, task: object, rendered?: object, value: *, compare?: *}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function showValue(container, module, options) {
  return module?.display ? module.display(container, options) : rawValue(container, options.value);
}

/**
 * A whole answer as a definition list: each field's title, then its value drawn by the
 * field's widget. Fields named in `differs` are marked (and, against `compare[name]`, the
 * items the most common answer lacks); values of fields gone from the schema follow.
 * @param {object[]} fields
 * @param {Map<string, object>} modules from {@link loadModules}
 * @param {{task: object, rendered?: object, value: object|null, differs?: string[], compare?: object,
 *   className?: string, differsClass?: string}} options
 * @returns {HTMLDListElement}
 */
export function answerView(fields, modules, { task, rendered, value, differs = [], compare, className = "", differsClass = "" }) {
  const answer = value && typeof value === "object" ? value : {};
  const dl = h("dl", { class: `lh-answer ${className}`.trim() });
  for (const field of fields) {
    const differ = differs.includes(field.name);
    const dd = h("dd", {
      class: differ ? `lh-differs ${differsClass}`.trim() : null,
      dataset: { field: field.name, kind: field.kind },
      title: differ ? "differs from the most common answer" : null,
    });
    showValue(dd, modules.get(field.kind), {
      field, task, rendered: rendered?.[field.name], value: answer[field.name] ?? null,
      compare: differ && compare ? compare[field.name] ?? null : undefined,
    });
    dl.append(h("dt", { text: field.title || field.name }), dd);
  }
  for (const [name, v] of Object.entries(answer)) {
    if (fields.some((f) => f.name === name)) continue;
    const dd = h("dd", { dataset: { field: name } });
    rawValue(dd, v);
    dl.append(h("dt", {}, `${name} `, h("span", { class: "muted", text: "(older schema)" })), dd);
  }
  return dl;
}

/**
 * What changed from one revision of an answer to the next, field by field (fields left
 * as they were are not listed), each drawn by its widget module's `changes()`.
 * @param {HTMLElement} container
 * @param {object[]} fields
 * @param {Map<string, object>} modules
 * @param {{task: object, before: object, after: object}} options
 * @returns {number} how many fields changed
 */
export function revisionChanges(container, fields, modules, { task, before, after }) {
  const old = before && typeof before === "object" ? before : {};
  const now = after && typeof after === "object" ? after : {};
  const names = [...new Set([...fields.map((f) => f.name), ...Object.keys(old), ...Object.keys(now)])];
  let changed = 0;
  for (const name of names) {
    const b = old[name] ?? null;
    const a = now[name] ?? null;
    if (sameValue(b, a)) continue;
    changed += 1;
    const field = fields.find((f) => f.name === name);
    const module = field && modules.get(field.kind);
    const body = h("div", { class: "lh-revision-field", dataset: { field: name } },
      h("div", { class: "lh-revision-name", text: field ? field.title || field.name : `${name} (older schema)` }));
    const diff = module?.changes
      ? module.changes(field, b, a, task)
      : { inline: false, items: [...(b === null ? [] : [{ op: "removed", text: JSON.stringify(b) }]), ...(a === null ? [] : [{ op: "added", text: JSON.stringify(a) }])] };
    changeView(body, diff);
    container.append(body);
  }
  if (!changed) container.append(h("p", { class: "muted", text: "The answer did not change." }));
  return changed;
}
