// The quality page's gold exposure table (project managers): filled from the JSON API and
// refreshed after "Rotate now" (a data-api button, see app.js). Text only, never HTML.
import { api, showError } from "./api.js";

const section = document.getElementById("gold-exposure");

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// One gold item: link to the task (named by its external id), times served, per workforce,
// state and the over-the-limit flag.
export function exposureRow(item) {
  const tr = el("tr");
  const name = el("td");
  const link = el("a", item.external_id || `task ${item.task_id}`);
  link.href = `/tasks/${encodeURIComponent(item.task_id)}`;
  name.append(link);
  const served = el("td", String(item.served), "num");
  const per = el("td", undefined, "small");
  if (item.workforces.length === 0) per.textContent = "—";
  for (const w of item.workforces) per.append(el("div", `${w.name}: ${w.served}`));
  const state = el("td");
  state.append(el("span", item.state, `badge gold-state-${item.state}`));
  const flag = el("td");
  if (item.over_limit) flag.append(el("span", "over the limit", "badge flag"));
  tr.append(name, served, per, state, flag);
  return tr;
}

async function load() {
  const error = section.querySelector("[data-exposure-error]");
  try {
    const { items } = await api("GET", section.dataset.exposureUrl);
    section.querySelector("#gold-exposure-table tbody").replaceChildren(...items.map(exposureRow));
    section.querySelector("[data-exposure-empty]").hidden = items.length > 0;
    error.replaceChildren();
  } catch (err) {
    showError(error, err);
  }
}

if (section) {
  load();
  section.addEventListener("api:done", (event) => {
    if (event.target.matches("[data-rotate]")) load();
  });
}
