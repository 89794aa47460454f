// The export page's "Exports & snapshots" card: start a background export or a snapshot
// with the export form's current choices, list the project's jobs with a progress bar
// (polled while any is unfinished), cancel, download; list the snapshots and their files.
// Everything shown is set as text, never as HTML.
import { api, showError } from "./api.js";

const root = document.getElementById("background-exports");
const form = document.getElementById("export-form");
const COMMON = new Set(["format", "include_drafts", "content", "consensus_method", "csv_formulas"]);
const POLL_MS = 1000;
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

/** The export form's choices as the body of POST …/exports (what a GET would send). */
function choices() {
  const data = new FormData(form);
  const body = {
    format: data.get("format") || "jsonl",
    include_drafts: data.get("include_drafts") === "true",
    content: data.get("content") || "raw",
    csv_formulas: data.get("csv_formulas") || "escape",
    options: {},
  };
  if (data.get("consensus_method")) body.consensus_method = data.get("consensus_method");
  for (const [name, value] of data) {
    if (!COMMON.has(name) && typeof value === "string") body.options[name] = value;
  }
  return body;
}

const size = (n) =>
  n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GB`
  : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB`
  : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function link(href, text, title) {
  const a = el("a", text, { href, download: "" });
  if (title) a.title = title;
  return a;
}

function jobRow(job) {
  const tr = el("tr");
  tr.dataset.job = job.id;
  tr.dataset.state = job.state;
  tr.append(el("td", `#${job.id}`));
  const what = job.kind === "snapshot" ? `snapshot ${job.snapshot_id ?? ""}` : `export (${job.format})`;
  tr.append(el("td", what));
  const state = el("td");
  state.append(el("span", job.state, { class: `badge job-${job.state}` }));
  if (job.error && job.state !== "cancelled") state.append(el("div", job.error, { class: "error small" }));
  tr.append(state);
  const progress = el("td");
  const { done, total } = job.progress;
  const bar = el("progress", null, { max: String(total || 1), "aria-label": `Job ${job.id} progress` });
  if (total || FINISHED.has(job.state)) bar.value = total ? Math.min(done, total) : 1;
  progress.append(bar, el("span", total ? ` ${done} / ${total}` : ` ${done}`, { class: "muted" }));
  tr.append(progress);
  const result = el("td");
  if (job.result) {
    result.append(link(job.result.download_url, `Download (${size(job.result.size)})`, `SHA-256 ${job.result.sha256}`));
  }
  tr.append(result);
  const actions = el("td");
  if (!FINISHED.has(job.state)) {
    const cancel = el("button", "Cancel", { type: "button", class: "link danger" });
    cancel.addEventListener("click", () => act(() => api("POST", `/api/jobs/${job.id}/cancel`)));
    actions.append(cancel);
  }
  tr.append(actions);
  return tr;
}

function snapshotItem(snap) {
  const li = el("li");
  li.dataset.snapshot = snap.id;
  li.append(el("strong", snap.name), el("span", ` · #${snap.id} · ${snap.settings.formats.join(", ")} · `));
  if (!snap.files.length) {
    li.append(el("span", snap.job.state, { class: "muted" }));
    return li;
  }
  const files = el("span");
  snap.files.forEach((f, i) => {
    if (i) files.append(document.createTextNode(" · "));
    files.append(link(f.download_url, `${f.name} (${size(f.size)})`, `SHA-256 ${f.sha256}`));
  });
  li.append(files);
  return li;
}

let timer = null;

async function refresh() {
  const pid = root.dataset.project;
  const [jobs, snaps] = await Promise.all([
    api("GET", `/api/projects/${pid}/jobs`),
    api("GET", `/api/projects/${pid}/snapshots`),
  ]);
  const body = root.querySelector("#job-list tbody");
  body.replaceChildren(...jobs.items.map(jobRow));
  root.querySelector("#jobs-empty").hidden = jobs.items.length > 0;
  root.querySelector("#snapshot-list").replaceChildren(...snaps.items.map(snapshotItem));
  root.querySelector("#snapshots-empty").hidden = snaps.items.length > 0;
  clearTimeout(timer);
  if (jobs.items.some((j) => !FINISHED.has(j.state))) timer = setTimeout(poll, POLL_MS);
}

async function poll() {
  try {
    await refresh();
  } catch (error) {
    showError(root.querySelector("#jobs-error"), error);
  }
}

async function act(request) {
  const errors = root.querySelector("#jobs-error");
  errors.replaceChildren();
  errors.classList.remove("error");
  try {
    await request();
  } catch (error) {
    showError(errors, error);
  }
  await poll();
}

if (root && form) {
  const pid = root.dataset.project;
  root.querySelector("#start-export-job").addEventListener("click", () =>
    act(() => api("POST", `/api/projects/${pid}/exports`, choices())),
  );
  root.querySelector("#start-snapshot").addEventListener("click", () => {
    const { format, options, ...rest } = choices();
    const name = root.querySelector("#snapshot-name").value;
    const body = { ...rest, name, formats: [format], options: Object.keys(options).length ? { [format]: options } : {} };
    act(() => api("POST", `/api/projects/${pid}/snapshots`, body));
  });
  poll();
}
