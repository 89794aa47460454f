// "My submissions": an annotator's own stored answer to one task, drawn read-only by the
// field widgets' display mode, loaded when its entry is opened.
import { api } from "../api.js";
import { h } from "../widgets/lib/dom.js";
import { answerView, loadModules } from "../widgets/lib/show.js";

const fieldsOf = (schema) => (Array.isArray(schema) ? schema : schema?.fields || []);

/**
 * Fill an opened history entry with the user's answer (once; again after a failure).
 * @param {HTMLDetailsElement} details the entry's disclosure
 * @param {object} task the task as the task list returns it (data, media)
 * @param {{schema: object, userId: number}} options the project's current schema
 */
export async function showMyAnswer(details, task, { schema, userId }) {
  if (details.dataset.loaded) return;
  details.dataset.loaded = "1";
  const body = h("div", { class: "an-history-answer-body", "aria-live": "polite", text: "Loading…" });
  details.querySelector(".an-history-answer-body")?.remove();
  details.append(body);
  try {
    const [{ items }, modules] = await Promise.all([
      api("GET", `/api/tasks/${task.id}/annotations`),
      loadModules(fieldsOf(schema)),
    ]);
    // reviewers and managers are shown everyone's annotations: pick the user's own
    const mine = items.filter((a) => a.annotator_id === userId);
    const answer = mine.find((a) => a.status === "submitted") || mine[0];
    if (!answer) {
      body.textContent = "You have no answer to this task any more.";
      return;
    }
    body.replaceChildren(answerView(fieldsOf(schema), modules, { task, value: answer.value, className: "an-history-answer-view" }));
  } catch (error) {
    body.textContent = `Could not load your answer: ${error.message}`;
    delete details.dataset.loaded;
  }
}
