// Which fields still hold a model's pre-annotation: each pre-filled field carries a badge,
// "pre-annotated" while its value is the one the model gave, "edited from pre-annotation"
// once the annotator changed it (and "pre-annotated" again after undoing back to it); the
// banner above the fields counts the changed ones. Comparison is pure (node-tested).
import { h } from "../widgets/lib/dom.js";
import { stableJson } from "./submission.js";

export const KEPT_TEXT = "pre-annotated";
export const EDITED_TEXT = "edited from pre-annotation";

/**
 * Split the pre-filled fields into those whose value is still the pre-annotation as shown
 * and those the annotator changed.
 * @param {Record<string, unknown>} shown field name → the widget's value right after
 *   mounting the prediction (widgets may normalise it: compare with what was on screen)
 * @param {Record<string, unknown>} values field name → the value now
 * @returns {{kept: string[], edited: string[]}}
 */
export function preAnnotationState(shown, values) {
  const kept = [];
  const edited = [];
  for (const name of Object.keys(shown)) {
    (stableJson(shown[name]) === stableJson(values[name] ?? null) ? kept : edited).push(name);
  }
  return { kept, edited };
}

/**
 * The banner's sentence about edits (empty when nothing was changed).
 * @param {{kept: string[], edited: string[]}} state
 * @returns {string}
 */
export function editsSentence({ kept, edited }) {
  if (!edited.length) return "";
  const total = kept.length + edited.length;
  return total === 1 ? " You changed it." : ` You changed ${edited.length} of the ${total} pre-filled fields.`;
}

/** The badges of one task's pre-filled fields and the banner's count of edits. */
export class PreAnnotationMarks {
  /** @param {HTMLElement} banner the banner filled by initial.js showBanner */
  constructor(banner) {
    this.banner = banner;
    this.reset();
  }

  /** Forget the previous task's fields (a new task is being shown). */
  reset() {
    this.shown = {};
    this.values = {};
    this.marks = new Map();
  }

  /**
   * Mark a field pre-filled by a prediction.
   * @param {string} name
   * @param {HTMLElement} root the field's frame (`fieldFrame().root`)
   * @param {unknown} value the widget's value as mounted
   */
  add(name, root, value) {
    const badge = h("span", { class: "an-predicted-badge", text: KEPT_TEXT });
    root.classList.add("is-predicted");
    root.querySelector(".lh-field-head").append(badge);
    this.shown[name] = value;
    this.values[name] = value;
    this.marks.set(name, { root, badge });
  }

  /**
   * A field's value changed (an edit, undo or redo): update its badge and the banner.
   * @param {string} name
   * @param {unknown} value
   */
  update(name, value) {
    const mark = this.marks.get(name);
    if (!mark) return;
    this.values[name] = value;
    const state = preAnnotationState(this.shown, this.values);
    const edited = state.edited.includes(name);
    mark.badge.textContent = edited ? EDITED_TEXT : KEPT_TEXT;
    mark.badge.dataset.state = edited ? "edited" : "kept";
    mark.root.classList.toggle("is-predicted", !edited);
    let note = this.banner.querySelector(".an-banner-edits");
    if (!note) {
      note = h("span", { class: "an-banner-edits" });
      this.banner.append(note);
    }
    note.textContent = editsSentence(state);
  }

  /** @returns {{kept: string[], edited: string[]}} */
  get state() {
    return preAnnotationState(this.shown, this.values);
  }
}
