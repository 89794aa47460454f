// Project settings page: the schema editor (validation as you type, live preview with the
// field widgets on a sample task, save as a new version, load an old version).
// Everything untrusted is written with textContent; the only HTML inserted comes from the
// server's sanitizer (widgets get it as `rendered`).
import { api, showError } from "./api.js";

const config = JSON.parse(document.getElementById("schema-editor-data").textContent);
const textarea = document.getElementById("schema-text");
const status = document.getElementById("schema-status");
const errors = document.getElementById("schema-errors");
const preview = document.getElementById("schema-preview");
const previewSource = document.getElementById("preview-source");
const saveButton = document.getElementById("schema-save");
const saveResult = document.getElementById("schema-save-result");
const versionsBody = document.querySelector("#schema-versions tbody");
const currentLabel = document.getElementById("schema-current");

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

// -- validation ------------------------------------------------------------------------------
let sequence = 0; // answers to older keystrokes are dropped
let timer = 0;

async function check() {
  const mine = ++sequence;
  status.className = "schema-status";
  status.textContent = "Checking…";
  try {
    const { schema } = await api("POST", "/api/schemas/validate", { schema: textarea.value });
    if (mine !== sequence) return;
    errors.replaceChildren();
    textarea.removeAttribute("aria-invalid");
    const names = schema.fields.map((f) => `${f.name} (${f.kind})`).join(", ");
    status.classList.add("ok");
    status.textContent = `Valid: ${schema.fields.length} field${schema.fields.length === 1 ? "" : "s"}: ${names}`;
    if (saveButton) saveButton.disabled = false;
    await renderPreview(schema, mine);
  } catch (error) {
    if (mine !== sequence) return;
    status.classList.add("error");
    status.textContent = error.message;
    errors.replaceChildren(...(error.details || []).map((d) => el("li", "", `${d.field}: ${d.problem}`)));
    textarea.setAttribute("aria-invalid", "true");
    if (saveButton) saveButton.disabled = true;
    if (preview.childElementCount) {
      preview.classList.add("stale");
      previewSource.textContent = "of the last valid schema: fix the problems to update it";
    }
  }
}

textarea.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(check, 350);
});

// -- live preview ------------------------------------------------------------------------------
const modules = new Map();
let mounted = [];

function loadWidget(kind) {
  // Only kinds whose module exists on the server (a missing one would be a 404).
  if (!config.widgets.includes(kind)) return Promise.resolve(null);
  if (!modules.has(kind)) modules.set(kind, import(`./widgets/${kind}.js`).catch(() => null));
  return modules.get(kind);
}

function clearPreview() {
  for (const widget of mounted) {
    try { widget?.destroy?.(); } catch { /* a broken widget must not break the editor */ }
  }
  mounted = [];
  preview.replaceChildren();
}

function placeholder(body, field) {
  body.classList.add("placeholder");
  body.append(el("p", "muted", `A ${field.kind} field. Its interactive preview shows here once the ${field.kind} widget is installed.`));
  const options = field.options || field.labels;
  if (Array.isArray(options)) {
    const list = el("p", "chips");
    for (const o of options) list.append(el("span", "chip", o.hotkey ? `${o.label || o.value} [${o.hotkey}]` : o.label || o.value));
    body.append(list);
  }
}

async function renderPreview(schema, mine) {
  let sample;
  try {
    sample = await api("POST", `/api/projects/${config.project_id}/schema/sample`, { schema });
  } catch (error) {
    if (mine !== sequence) return;
    clearPreview();
    preview.append(el("p", "error", `No preview: ${error.message}`));
    return;
  }
  if (mine !== sequence) return;
  clearPreview();
  preview.classList.remove("stale");
  previewSource.textContent = sample.source === "synthetic" ? "on made-up sample data (no task fits this schema yet)" : `on ${sample.source}`;
  const data = el("details", "sample-data");
  data.append(el("summary", "", "Sample task data"), el("pre", "json", JSON.stringify(sample.task.data, null, 2)));
  preview.append(data);
  for (const field of schema.fields) {
    const box = el("section", "preview-field");
    const head = el("h4", "", field.title || field.name);
    head.append(" ", el("span", "badge", field.kind));
    const body = el("div", "preview-body");
    box.append(head, body);
    if (field.description) box.insertBefore(el("p", "muted small", field.description), body);
    preview.append(box);
    const module = await loadWidget(field.kind);
    if (mine !== sequence) return;
    if (module && typeof module.mount === "function") {
      try {
        mounted.push(module.mount(body, {
          field,
          task: sample.task,
          rendered: (sample.rendered || {})[field.name] || {},
          value: null,
          readOnly: false,
          onChange: () => {},
        }));
        continue;
      } catch (error) {
        body.replaceChildren();
        console.warn(`preview of ${field.kind} failed`, error);
      }
    }
    placeholder(body, field);
  }
}

// Same layout as the server's (pages/settings.py schema_text): one line per option.
function flatJson(value) {
  if (Array.isArray(value)) return `[${value.map(flatJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${flatJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}

function schemaText(value, level = 0) {
  const flat = flatJson(value);
  const isObject = value !== null && typeof value === "object";
  const leaf = isObject && Object.values(value).every((v) => v === null || typeof v !== "object");
  if (!isObject || (leaf && flat.length + 2 * level <= 88)) return flat;
  const pad = "  ".repeat(level + 1);
  const end = "  ".repeat(level);
  if (Array.isArray(value)) return `[\n${value.map((v) => pad + schemaText(v, level + 1)).join(",\n")}\n${end}]`;
  const keys = ["name", "kind"].filter((k) => k in value).concat(Object.keys(value).filter((k) => k !== "name" && k !== "kind"));
  return `{\n${keys.map((k) => `${pad}${JSON.stringify(k)}: ${schemaText(value[k], level + 1)}`).join(",\n")}\n${end}}`;
}

// -- versions ------------------------------------------------------------------------------------
function versionRow(v) {
  const row = el("tr");
  row.dataset.version = v.version;
  const name = el("td", "", `v${v.version} `);
  name.append(el("span", "badge", "current"));
  const fields = el("td");
  for (const f of v.schema.fields) {
    const chip = el("span", "chip", `${f.name} `);
    chip.append(el("span", "muted", f.kind));
    fields.append(chip);
  }
  const load = el("button", "link", "Load into editor");
  load.type = "button";
  load.dataset.loadVersion = v.version;
  const action = el("td");
  action.append(load);
  row.append(name, el("td", "", String(v.created_at).slice(0, 16).replace("T", " ")), fields, action);
  return row;
}

saveButton?.addEventListener("click", async () => {
  saveResult.replaceChildren();
  saveResult.className = "form-result";
  saveButton.disabled = true;
  try {
    const saved = await api("PUT", `/api/projects/${config.project_id}/schema`, { schema: textarea.value });
    if (saved.version === config.version) {
      saveResult.textContent = `Nothing changed: this is version ${saved.version} already.`;
    } else {
      config.version = saved.version;
      config.versions.push(saved);
      for (const badge of versionsBody.querySelectorAll(".badge")) badge.remove();
      versionsBody.prepend(versionRow(saved));
      currentLabel.textContent = `v${saved.version}`;
      saveResult.classList.add("ok");
      saveResult.textContent = `Saved as version ${saved.version}.`;
    }
  } catch (error) {
    showError(saveResult, error);
  } finally {
    saveButton.disabled = false;
  }
});

versionsBody.addEventListener("click", (event) => {
  const button = event.target.closest("[data-load-version]");
  if (!button) return;
  const version = config.versions.find((v) => String(v.version) === button.dataset.loadVersion);
  if (!version || textarea.readOnly) return;
  textarea.value = schemaText(version.schema);
  textarea.focus();
  check();
});

check();
