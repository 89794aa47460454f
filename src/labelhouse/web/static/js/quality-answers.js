// The quality page's disagreement hot spots: under a task's row, its submitted answers side
// by side, each drawn by the field widgets' display mode, with the fields (and the spans,
// boxes, options) that differ from the most common answer marked. Loaded on demand.
import { api, showError } from "./api.js";
import { differingFields, majorityByField } from "./widgets/lib/diff.js";
import { h } from "./widgets/lib/dom.js";
import { answerView, loadModules } from "./widgets/lib/show.js";

const table = document.getElementById("hotspot-table");
const config = JSON.parse(document.getElementById("lh-quality-config").textContent);
let schema = null; // the project's current schema, fetched once

/** The answers of one task as cards, or the reason they could not be loaded. */
async function answersOf(taskId) {
  schema ??= (await api("GET", `/api/projects/${config.project}/schema`)).schema;
  const fields = schema.fields || [];
  const [task, modules] = await Promise.all([api("GET", `/api/tasks/${taskId}?render=1`), loadModules(fields)]);
  const submitted = (task.annotations || []).filter((a) => a.status === "submitted");
  const majority = majorityByField(fields.map((f) => f.name), submitted.map((a) => a.value));
  return submitted.map((a) => {
    const who = config.emails[String(a.annotator_id)] || `annotator ${a.annotator_id}`;
    return h("article", { class: "card hotspot-answer", "aria-label": `Answer by ${who}` },
      h("header", {}, h("strong", { text: who })),
      answerView(fields, modules, {
        task, rendered: task.rendered, value: a.value,
        differs: submitted.length > 1 ? differingFields(a.value, majority) : [], compare: majority,
      }));
  });
}

async function toggle(button) {
  const row = button.closest("tr");
  const open = button.getAttribute("aria-expanded") === "true";
  const shown = row.nextElementSibling?.classList.contains("hotspot-answers") ? row.nextElementSibling : null;
  button.setAttribute("aria-expanded", String(!open));
  button.textContent = open ? "Show answers" : "Hide answers";
  if (open) { shown?.remove(); return; }
  const grid = h("div", { class: "annotation-grid hotspot-answer-grid", "aria-live": "polite", text: "Loading…" });
  row.after(h("tr", { class: "hotspot-answers" }, h("td", { colspan: String(row.cells.length) }, grid)));
  try {
    grid.replaceChildren(...await answersOf(Number(button.dataset.hotspotAnswers)));
  } catch (error) {
    showError(grid, error);
  }
}

for (const button of table?.querySelectorAll("[data-hotspot-answers]") || []) {
  button.hidden = false; // without this script, the task link is the way to the answers
  button.addEventListener("click", () => toggle(button));
}
