// Import page: uploads with a real progress bar (XMLHttpRequest upload events; fetch has
// none), then the import's counts, or every rejected row with its reason.
import { api, csrfToken, showError } from "./api.js";

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MB`;
}

// POST a FormData, reporting upload progress; resolves with {status, body}.
function upload(url, formData, bar, label) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      label.textContent = `${Math.round((100 * e.loaded) / e.total)}% of ${size(e.total)} sent`;
    });
    xhr.upload.addEventListener("load", () => {
      bar.removeAttribute("value"); // indeterminate while the server checks the rows
      label.textContent = "Uploaded; the server is checking and storing the rows…";
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { body = null; }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => reject(new Error("The connection failed before the server answered; try again.")));
    xhr.send(formData);
  });
}

function problemTable(details, firstColumn) {
  const table = el("table", "table problems");
  const head = el("tr");
  head.append(el("th", "", firstColumn), el("th", "", "Reason"));
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const d of details) {
    const row = el("tr");
    row.append(el("td", "where", d.field ?? d.where), el("td", "", d.problem ?? (d.problems || []).join("; ")));
    tbody.append(row);
  }
  table.append(thead, tbody);
  return table;
}

function showImport(result, body, status, projectId) {
  result.replaceChildren();
  if (status >= 200 && status < 300) {
    result.className = "import-result ok";
    result.append(el("h3", "", "Import finished"));
    const counts = el("dl", "counts");
    for (const [key, label] of [["rows", "rows read"], ["created", "tasks created"], ["duplicates", "duplicates skipped"], ["rejected", "rows rejected"]]) {
      const box = el("div", `count count-${key}${body[key] ? " nonzero" : ""}`);
      box.append(el("dd", "", String(body[key])), el("dt", "", label));
      counts.append(box);
    }
    result.append(counts);
    if (body.rejected_sample && body.rejected_sample.length) {
      result.append(el("p", "", "Rejected rows (not imported):"), problemTable(body.rejected_sample, "Row"));
    }
    const link = el("a", "button", "Browse the tasks");
    link.href = `/projects/${projectId}/tasks`;
    result.append(link);
    return;
  }
  result.className = "import-result error";
  const error = (body && body.error) || {};
  result.append(el("h3", "", status === 422 ? "Nothing was imported" : `The import failed (HTTP ${status})`));
  result.append(el("p", "", error.message || "The server gave no reason."));
  if (error.details && error.details.length) result.append(problemTable(error.details, "Row"));
}

function wire(form, handler) {
  if (!form) return;
  const progress = form.querySelector(".upload-progress");
  const bar = progress.querySelector("progress");
  const label = progress.querySelector("span");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    progress.hidden = false;
    bar.value = 0;
    label.textContent = "Starting…";
    try {
      const ok = await handler(form, bar, label);
      label.textContent = ok ? "Done." : "Uploaded, but the server refused it: see below.";
    } catch (error) {
      label.textContent = error.message;
    } finally {
      button.disabled = false;
      bar.value = bar.max; // a determinate, full bar once finished
    }
  });
}

wire(document.getElementById("import-form"), async (form, bar, label) => {
  const projectId = form.dataset.project;
  const data = new FormData();
  data.append("file", form.elements.file.files[0]);
  const skip = form.elements.skip_invalid.checked;
  const { status, body } = await upload(`/api/projects/${projectId}/import?skip_invalid=${skip}`, data, bar, label);
  showImport(document.getElementById("import-result"), body || {}, status, projectId);
  if (status >= 200 && status < 300) refreshSide(); // not awaited: the result shows at once
  return status >= 200 && status < 300;
});

wire(document.getElementById("images-form"), async (form, bar, label) => {
  const data = new FormData();
  for (const file of form.elements.files.files) data.append("files", file);
  const { status, body } = await upload(`/api/projects/${form.dataset.project}/files`, data, bar, label);
  const result = document.getElementById("images-result");
  result.replaceChildren();
  if (status >= 200 && status < 300) {
    result.className = "ok";
    const list = el("ul", "small");
    for (const f of body.items) list.append(el("li", "", `${f.name}: ${f.width}×${f.height} px${f.created ? "" : " (already uploaded)"}`));
    result.append(el("p", "", `${body.items.length} image${body.items.length === 1 ? "" : "s"} stored.`), list);
    form.reset();
    return true;
  } else {
    const error = (body && body.error) || {};
    result.className = "error";
    result.append(el("p", "", error.message || `Upload failed (HTTP ${status}).`));
    if (error.details && error.details.length) result.append(problemTable(error.details, "File"));
    return false;
  }
});

// The side panel (the project's task count, the recent imports) is drawn by the server:
// after an import or an undo it is fetched again, so its counts are never stale.
async function refreshSide() {
  const side = document.getElementById("recent-imports");
  if (!side) return;
  try {
    const response = await fetch(window.location.pathname, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("recent-imports");
    if (fresh) side.replaceChildren(...fresh.childNodes);
  } catch { /* the panel stays as it was; reloading the page shows the new counts */ }
}

// Undo an import: its tasks nobody has worked on go; the panel then shows how many were
// removed and the project's new task count.
const projectId = document.getElementById("import-form")?.dataset.project;
document.getElementById("recent-imports")?.addEventListener("click", async (event) => {
  const button = event.target.closest("button.undo-import");
  if (!button) return;
  const { import: importId, filename } = button.dataset;
  const question = `Remove the tasks imported from ${filename} that nobody has worked on? ` +
    "Tasks that were handed out or answered stay. This cannot be undone.";
  if (!window.confirm(question)) return;
  button.disabled = true;
  try {
    const body = await api("DELETE", `/api/projects/${projectId}/imports/${importId}/tasks`);
    await refreshSide();
    const out = document.getElementById("undo-result");
    out.classList.remove("error");
    out.textContent = `Removed ${body.removed} task${body.removed === 1 ? "" : "s"} of ${filename}` +
      (body.kept ? `; kept ${body.kept} that someone worked on.` : ".");
    if (!button.isConnected) out.focus(); // the button went with the old panel
  } catch (error) {
    button.disabled = false;
    showError(document.getElementById("undo-result"), error);
  }
});
