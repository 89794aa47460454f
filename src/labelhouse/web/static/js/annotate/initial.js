// What a task starts with — the browser's unsent draft, my earlier annotation, or a model's
// prediction — and the banner that says which, so pre-filled answers are never mistaken
// for the annotator's own.
import { h } from "../widgets/lib/dom.js";

/**
 * Pick the starting values of a task, most personal first.
 * @param {object} task from the API (`annotations`, `predictions`)
 * @param {number} userId the annotator
 * @param {{values: object}|null} draft this browser's unsent draft of the task
 * @returns {{values: object, source: "draft"|"own"|"server-draft"|"prediction"|"empty", own: object|null, prediction: object|null}}
 */
export function initialValues(task, userId, draft) {
  const own = (task.annotations || []).find((a) => a.annotator_id === userId);
  const predictions = [...(task.predictions || [])].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
  if (draft) return { values: draft.values, source: "draft", own, prediction: null };
  if (own) return { values: own.value || {}, source: own.status === "submitted" ? "own" : "server-draft", own, prediction: null };
  if (predictions.length) return { values: predictions[0].value || {}, source: "prediction", own: null, prediction: predictions[0] };
  return { values: {}, source: "empty", own: null, prediction: null };
}

/**
 * Fill the banner above the fields (hidden when the task starts empty).
 * @param {HTMLElement} banner
 * @param {ReturnType<typeof initialValues>} init
 */
export function showBanner(banner, init) {
  const parts = [];
  if (init.source === "draft") {
    parts.push(h("strong", { text: "Restored" }), " your unsent work on this task from this browser.");
  } else if (init.source === "own") {
    parts.push(h("strong", { text: "Editing your submission" }), ` (revision ${init.own.revision}). Submitting saves a new revision; the old one is kept.`);
  } else if (init.source === "server-draft") {
    parts.push(h("strong", { text: "Draft" }), " saved earlier is filled in.");
  } else if (init.source === "prediction") {
    const p = init.prediction;
    const model = p.model_version || "unnamed model";
    const score = typeof p.score === "number" ? `, score ${Number(p.score.toFixed(3))}` : "";
    parts.push(h("strong", { text: `Pre-annotation (model ${model}${score})` }), ": filled in by a model — check every field before submitting.");
  }
  banner.replaceChildren(...parts);
  banner.hidden = parts.length === 0;
  banner.dataset.source = init.source;
}
