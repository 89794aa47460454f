// Project settings → Routing: how the project's work is routed to its workforces (a table
// with a bar per workforce), and the forms that route, move and unroute unstarted work.
// The page embeds the starting state (#routing-data); every answer of the API carries the
// new summary, which is drawn again. Names are untrusted: everything is textContent.
import { api, showError } from "./api.js";

const section = document.getElementById("routing");
const data = JSON.parse(document.getElementById("routing-data").textContent);
const base = `/api/projects/${data.project_id}/routing`;

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const percent = (x) => `${x >= 10 || x === 0 ? Math.round(x) : x.toFixed(1)} %`;

// Names of every workforce the page knows (the project's, and any with routes left).
const names = new Map();
const learnNames = (list) => list.forEach((w) => names.set(w.id, w.name));
learnNames(data.workforces);

// A problem found before asking the server, shown like the server's.
const problem = (message, field, text) => ({ message, details: field ? [{ field, problem: text }] : [] });

// -- the summary -------------------------------------------------------------------------------

function shareBar(value) {
  const track = el("span", "share-bar");
  track.setAttribute("aria-hidden", "true");
  const fill = el("span", "share-fill");
  fill.style.width = `${Math.max(0, Math.min(100, value))}%`; // CSSOM, which the CSP allows
  track.append(fill);
  return track;
}

function summaryRow(w, totalSlots) {
  const row = el("tr");
  row.dataset.workforce = w.name;
  const name = el("th", "", `${w.name} `);
  name.scope = "row";
  if (w.kind) name.append(el("span", `badge kind-${w.kind}`, w.kind));
  row.append(name);
  for (const key of ["tasks", "slots", "taken", "open_slots"]) {
    const cell = el("td", "num", w[key].toLocaleString("en"));
    cell.dataset.col = key;
    row.append(cell);
  }
  const share = totalSlots ? (100 * w.slots) / totalSlots : 0;
  const cell = el("td", "share-cell");
  cell.dataset.col = "share";
  cell.append(shareBar(share), el("span", "share-value", percent(share)));
  row.append(cell);
  return row;
}

function describeRule(rule) {
  if (!rule) return "New imports are not routed: route them here after importing, or tick “Also route future imports this way”.";
  const list = rule.workforces || [];
  const name = (w) => names.get(w.id) || `team ${w.id}`;
  if (rule.mode === "each") {
    return `New imports are routed to each: ${list.map((w) => `${name(w)} ${w.quota}`).join(", ")} annotations per task.`;
  }
  const total = list.reduce((sum, w) => sum + (w.share || 0), 0) || 1;
  return `New imports are routed by share: ${list.map((w) => `${name(w)} ${percent((100 * (w.share || 0)) / total)}`).join(", ")}.`;
}

function renderSummary(summary) {
  learnNames(summary.workforces);
  const table = document.getElementById("routing-table");
  const totalSlots = summary.workforces.reduce((sum, w) => sum + w.slots, 0);
  table.tBodies[0].replaceChildren(...summary.workforces.map((w) => summaryRow(w, totalSlots)));
  table.hidden = summary.workforces.length === 0;
  const n = summary.unrouted_tasks;
  document.getElementById("routing-unrouted").textContent =
    `${plural(n, "task is", "tasks are")} routed to nobody: lab people outside vendors may get them (a vendor gets only work routed to it).`;
  document.getElementById("routing-rule").textContent = describeRule(summary.rule);
}

// -- which tasks ---------------------------------------------------------------------------------

// A text field of a choice picks its radio button, so typing an import id is enough.
for (const input of section.querySelectorAll("[data-choice]")) {
  const pick = () => {
    const radio = input.closest("fieldset").querySelector(`input[type=radio][value="${input.dataset.choice}"]`);
    if (radio) radio.checked = true;
  };
  input.addEventListener("focus", pick);
  input.addEventListener("input", pick);
}

function taskSelection(form, prefix) {
  const field = (name) => form.elements[`${prefix}-${name}`];
  const which = form.querySelector(`input[name="${prefix}-which"]:checked`)?.value;
  if (which === "every") return { every_unstarted: true };
  if (which === "import") {
    const text = field("import").value.trim();
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      throw problem("Give the import's id: the number shown on the Import page.", "tasks.import_id", "a whole number from 1");
    }
    return { import_id: Number(text) };
  }
  if (which === "ids") {
    const parts = field("ids").value.split(/[\s,;]+/).filter(Boolean);
    const bad = parts.filter((p) => !/^\d+$/.test(p));
    if (!parts.length || bad.length) {
      throw problem(
        bad.length ? `Task ids are whole numbers; not: ${bad.slice(0, 5).join(", ")}.` : "List the task ids.",
        "tasks.ids",
        "whole numbers separated by commas or spaces",
      );
    }
    return { ids: [...new Set(parts.map(Number))] };
  }
  if (which === "key") {
    const key = field("key").value.trim();
    if (!key) throw problem("Name the task-data key to filter on.", "tasks.key", "a key of the task data, e.g. lang");
    return { key, equals: field("equals").value };
  }
  return {}; // routed to nobody yet (route) / every unstarted task (unroute)
}

// -- one handler for the three forms ---------------------------------------------------------------

function handle(form, work) {
  const result = form.querySelector(".form-result");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    button.disabled = true;
    try {
      const message = await work();
      if (message === null) return; // not confirmed
      result.classList.remove("error");
      result.classList.add("ok");
      result.textContent = message;
    } catch (error) {
      result.classList.remove("ok");
      showError(result, error);
      if (error.mark) for (const input of error.mark) input.setAttribute("aria-invalid", "true");
    } finally {
      button.disabled = false;
    }
  });
}

// -- route -------------------------------------------------------------------------------------------

const routeForm = document.getElementById("route-form");
if (routeForm) {
  const rows = [...routeForm.querySelectorAll("tr[data-workforce-id]")];
  const total = document.getElementById("route-total");
  const mode = () => routeForm.querySelector("input[name=mode]:checked").value;
  const inputOf = (row) => row.querySelector(mode() === "share" ? "input[data-share]" : "input[data-quota]");
  const amount = (input) => (input.value.trim() === "" ? 0 : Number(input.value));

  const showTotal = () => {
    const given = rows.map((row) => [row.dataset.workforce, amount(inputOf(row))]).filter(([, x]) => x > 0);
    const sum = given.reduce((s, [, x]) => s + x, 0);
    if (mode() === "each") {
      total.textContent = `Quotas add up to ${sum} of ${data.overlap} annotations per task.`;
    } else if (!sum) {
      total.textContent = "Give at least one workforce a share.";
    } else {
      total.textContent = `Of the tasks routed: ${given.map(([n, x]) => `${n} ${percent((100 * x) / sum)}`).join(", ")}.`;
    }
  };

  const showMode = () => {
    const current = mode();
    for (const cell of routeForm.querySelectorAll("[data-mode]")) {
      const on = cell.dataset.mode === current;
      cell.hidden = !on;
      for (const input of cell.querySelectorAll("input")) input.disabled = !on;
    }
    showTotal();
  };
  routeForm.addEventListener("change", (e) => { if (e.target.name === "mode") showMode(); });
  routeForm.addEventListener("input", (e) => { if (e.target.matches("[data-share], [data-quota]")) showTotal(); });
  showMode();

  handle(routeForm, async () => {
    const current = mode();
    const key = current === "share" ? "share" : "quota";
    const sent = [];
    const workforces = [];
    for (const row of rows) {
      const input = inputOf(row);
      const value = amount(input);
      if (Number.isNaN(value) || value < 0) {
        throw Object.assign(problem(`The ${key} of ${row.dataset.workforce} must be a number from 0.`, key, "a number from 0"), { mark: [input] });
      }
      if (!value) continue;
      sent.push(input);
      workforces.push({ id: Number(row.dataset.workforceId), [key]: value });
    }
    if (!workforces.length) {
      throw Object.assign(
        problem(`Give at least one workforce a ${key}.`, "workforces", "at least one"),
        { mark: rows.map(inputOf) },
      );
    }
    const remember = routeForm.elements.remember.checked;
    let answer;
    try {
      answer = await api("POST", base, { mode: current, workforces, tasks: taskSelection(routeForm, "route"), remember });
    } catch (error) {
      // "workforces[1]: …" names the second workforce sent: mark its field.
      error.mark = (error.details || [])
        .map((d) => /^workforces\[(\d+)\]/.exec(d.field || ""))
        .filter(Boolean)
        .map((m) => sent[Number(m[1])])
        .filter(Boolean);
      throw error;
    }
    renderSummary(answer.routing);
    const later = remember ? " New imports will be routed the same way." : "";
    if (!answer.tasks) return `No unstarted task matched, so nothing was routed.${later}`;
    const split = answer.workforces.map((w) => `${w.name} ${w.tasks.toLocaleString("en")}`).join(", ");
    return `Routed ${plural(answer.tasks, "task")}: ${split}.${later}`;
  });
}

// -- move ----------------------------------------------------------------------------------------------

const moveForm = document.getElementById("move-form");
if (moveForm) {
  const from = moveForm.elements.from_workforce;
  const to = moveForm.elements.to_workforce;
  const otherTarget = () => {
    if (to.value !== from.value) return;
    const other = [...to.options].find((o) => o.value !== from.value);
    if (other) to.value = other.value;
  };
  from.addEventListener("change", otherTarget);
  otherTarget();
  handle(moveForm, async () => {
    const source = from.selectedOptions[0].textContent;
    const target = to.selectedOptions[0].textContent;
    if (from.value === to.value) throw problem("Move work to another workforce.", "to_workforce", "differs from “From”");
    const answer = await api("POST", `${base}/move`, { from_workforce: Number(from.value), to_workforce: Number(to.value) });
    renderSummary(answer.routing);
    if (!answer.moved_slots) return `${source} has no unstarted work to move.`;
    return `Moved ${plural(answer.moved_slots, "unstarted annotation")} from ${source} to ${target}.`;
  });
}

// -- unroute -------------------------------------------------------------------------------------------

const unrouteForm = document.getElementById("unroute-form");
if (unrouteForm) {
  handle(unrouteForm, async () => {
    const tasks = taskSelection(unrouteForm, "unroute");
    const forget = unrouteForm.elements.forget_rule.checked;
    const which = Object.keys(tasks).length ? "the chosen unstarted tasks" : "every unstarted task";
    const question = `Take ${which} out of routing? Lab people outside vendors may then get them.${forget ? " New imports will no longer be routed." : ""}`;
    if (!window.confirm(question)) return null;
    const answer = await api("POST", `${base}/unroute`, { tasks, forget_rule: forget });
    renderSummary(answer.routing);
    const rule = forget ? " New imports are no longer routed." : "";
    return `${plural(answer.unrouted_tasks, "task")} unrouted.${rule}`;
  });
}

renderSummary(data.summary);
