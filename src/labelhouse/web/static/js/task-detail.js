// The task detail page: every answer (annotations, predictions, gold) drawn by its fields'
// widgets in display mode instead of the server's plain text; annotations side by side
// with the fields that differ from the most common submitted answer marked; and each
// revision as what changed since the one before (the first one in full).
import { differingFields, majorityByField } from "./widgets/lib/diff.js";
import { answerView, loadModules, revisionChanges, showValue } from "./widgets/lib/show.js";

const config = JSON.parse(document.getElementById("lh-task-answers").textContent);
const fields = Array.isArray(config.schema) ? config.schema : config.schema?.fields || [];
const { task, answers } = config;

async function main() {
  const modules = await loadModules(fields);
  const submitted = config.submitted.map((key) => answers[key]);
  const majority = submitted.length > 1 ? majorityByField(fields.map((f) => f.name), submitted) : null;

  for (const el of document.querySelectorAll("[data-answer]")) {
    const key = el.dataset.answer;
    if (!(key in answers)) continue;
    const value = answers[key];
    el.replaceChildren();
    if (el.dataset.field) { // one field of an answer (a predictions table cell)
      const field = fields.find((f) => f.name === el.dataset.field);
      if (field) showValue(el, modules.get(field.kind), { field, task, rendered: task.rendered?.[field.name], value: value?.[field.name] ?? null });
      continue;
    }
    const compared = majority && config.submitted.includes(key);
    el.append(answerView(fields, modules, {
      task, rendered: task.rendered, value, className: "answer",
      differs: compared ? differingFields(value, majority) : [], compare: majority || undefined,
    }));
  }

  for (const el of document.querySelectorAll(".revision-view[data-annotation]")) {
    const revisions = config.revisions[el.dataset.annotation] || [];
    const number = Number(el.dataset.revision);
    const current = revisions.find((r) => r.revision === number);
    if (!current) continue;
    const before = revisions.filter((r) => r.revision < number).sort((a, b) => b.revision - a.revision)[0];
    el.replaceChildren();
    if (before) revisionChanges(el, fields, modules, { task, before: before.value, after: current.value });
    else el.append(answerView(fields, modules, { task, rendered: task.rendered, value: current.value, className: "revision-first" }));
  }
}

main();
