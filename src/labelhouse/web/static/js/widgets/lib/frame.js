// The box around one field: numbered title, description, key hints and the error slot.
// The annotate page and the schema editor's preview both wrap widgets in it.
import { h, uid } from "./dom.js";

/**
 * Build the frame of a field; mount the widget into `body`.
 * @param {object} field schema field JSON
 * @param {number} index position in the schema (shown as "1.", "2.", …)
 * @returns {{root: HTMLElement, body: HTMLElement, setErrors: (problems: string[]) => void,
 *   setActive: (active: boolean) => void}}
 */
export function fieldFrame(field, index) {
  const titleId = uid("lh-field-title");
  const errors = h("div", { class: "lh-field-errors", role: "alert", hidden: true });
  const body = h("div", { class: "lh-field-body" });
  const root = h(
    "section",
    { class: `lh-field lh-field-${field.kind}`, "aria-labelledby": titleId, dataset: { field: field.name, kind: field.kind } },
    h(
      "header",
      { class: "lh-field-head" },
      h("h2", { class: "lh-field-title", id: titleId }, h("span", { class: "lh-field-num", text: `${index + 1}.` }), " ", field.title || field.name),
      field.required === false ? h("span", { class: "lh-field-optional muted", text: "optional" }) : null,
    ),
    field.description ? h("p", { class: "lh-field-desc muted", text: field.description }) : null,
    errors,
    body,
  );
  return {
    root,
    body,
    setErrors(problems) {
      errors.replaceChildren(...problems.map((p) => h("p", { text: p })));
      errors.hidden = problems.length === 0;
      root.classList.toggle("has-error", problems.length > 0);
    },
    setActive(active) {
      root.classList.toggle("is-active", active);
      if (active) root.setAttribute("aria-current", "true");
      else root.removeAttribute("aria-current");
    },
  };
}
