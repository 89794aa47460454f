// Import page, "Import annotations": upload an annotation file with a progress bar, then
// show the counts, or every refused row with its reason (nothing is stored then).
import { csrfToken } from "./api.js";

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

function post(url, data, bar, label) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      label.textContent = `${Math.round((100 * e.loaded) / e.total)}% sent`;
    });
    xhr.upload.addEventListener("load", () => {
      bar.removeAttribute("value");
      label.textContent = "Uploaded; the server is checking every row…";
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { body = null; }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => reject(new Error("The connection failed before the server answered; try again.")));
    xhr.send(data);
  });
}

function show(result, status, body) {
  result.replaceChildren();
  if (status >= 200 && status < 300) {
    result.className = "import-result ok";
    result.append(el("h3", "", "Annotations imported"));
    const counts = el("dl", "counts");
    for (const [key, text] of [["rows", "rows read"], ["imported", "answers imported"], ["unchanged", "already stored"], ["updated", "updated"], ["external_annotators_created", "new external annotators"]]) {
      const box = el("div", `count${body[key] ? " nonzero" : ""}`);
      box.append(el("dd", "", String(body[key])), el("dt", "", text));
      counts.append(box);
    }
    result.append(counts);
    return true;
  }
  result.className = "import-result error";
  const error = (body && body.error) || {};
  result.append(el("h3", "", status === 422 ? "Nothing was imported" : `The import failed (HTTP ${status})`));
  result.append(el("p", "", error.message || "The server gave no reason."));
  if (error.details && error.details.length) {
    const table = el("table", "table problems");
    const head = el("tr");
    head.append(el("th", "", "Row"), el("th", "", "Reason"));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const d of error.details) {
      const row = el("tr");
      row.append(el("td", "where", d.field), el("td", "", d.problem));
      tbody.append(row);
    }
    table.append(thead, tbody);
    result.append(table);
  }
  return false;
}

const form = document.getElementById("annotation-import-form");
form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const progress = form.querySelector(".upload-progress");
  const bar = progress.querySelector("progress");
  const label = progress.querySelector("span");
  button.disabled = true;
  progress.hidden = false;
  const data = new FormData();
  data.append("file", form.elements.file.files[0]);
  const query = new URLSearchParams({ update: form.elements.update.checked });
  for (const name of ["format", "field", "workforce"]) {
    const value = form.elements[name].value.trim();
    if (value) query.set(name, value);
  }
  try {
    const { status, body } = await post(`/api/projects/${form.dataset.project}/annotations/import?${query}`, data, bar, label);
    const ok = show(document.getElementById("annotation-import-result"), status, body);
    label.textContent = ok ? "Done." : "Uploaded, but the server refused it: see below.";
  } catch (error) {
    label.textContent = error.message;
  } finally {
    button.disabled = false;
    bar.value = bar.max;
  }
});
