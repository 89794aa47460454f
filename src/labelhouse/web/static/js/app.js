// Page-wide behaviour. Forms and buttons with data-api="METHOD /url" call the JSON API
// (with the CSRF header) instead of a full page post; no inline scripts anywhere (CSP).
//
//   data-api="PATCH /api/x"   call the API with the form's fields as JSON
//   data-multipart            (forms) send the form as multipart/form-data instead (files)
//   data-success="…"          message shown in the form's .form-result on success (a JSON
//                             answer's own "message" string, when it has one, is shown instead)
//   data-list-field="emails"  (forms) send these fields (space-separated names) as lists of
//                             strings: a textarea split on new lines, commas and semicolons
//   data-lines-field="x"      (forms) the same, split on new lines only (items may hold commas)
//   data-reload / data-redirect="/x/{id}"   what to do after success
//   data-keep                 do not reset the form after success
//   data-autosubmit           submit the form whenever one of its fields changes
//   data-show-token           show the created API token (shown once)
//   data-show-invite          show the invitation link (shown once; data-success is said first)
//   data-confirm="…"          ask first
//   data-body='{"json": …}'   (buttons) the JSON body to send
//   after success the element fires a bubbling "api:done" event, detail {data, result}
//   textarea[data-markdown-preview="id"]  live, server-sanitized Markdown preview into #id
import { api, showError } from "./api.js";

const splitList = (text) => text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
const splitLines = (text) => text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);

function formBody(form) {
  const body = {};
  const lists = (form.dataset.listField || "").split(/\s+/).filter(Boolean);
  const lines = (form.dataset.linesField || "").split(/\s+/).filter(Boolean);
  for (const [k, v] of new FormData(form).entries()) {
    const input = form.elements[k];
    if (lists.includes(k)) body[k] = splitList(v);
    else if (lines.includes(k)) body[k] = splitLines(v);
    else if (input && input.type === "number") body[k] = v === "" ? null : Number(v);
    else if (input && input.type === "checkbox") body[k] = input.checked;
    else body[k] = v;
  }
  return body;
}

// Invitation secrets travel in the link's fragment (see the /invite page below).
export const inviteLink = (token) => `${window.location.origin}/invite#token=${encodeURIComponent(token)}`;

// A secret the server shows once: text plus a read-only field to copy it from.
export function showSecret(result, message, secret) {
  result.replaceChildren();
  const p = document.createElement("p");
  p.textContent = message;
  const input = document.createElement("input");
  input.readOnly = true;
  input.value = secret;
  input.className = "secret";
  input.setAttribute("aria-label", message);
  input.addEventListener("focus", () => input.select());
  result.append(p, input);
}

function showSuccess(el, result, data) {
  result.classList.remove("error");
  result.classList.add("ok");
  if (el.dataset.showToken !== undefined) {
    showSecret(result, "Your token (copy it now, it will not be shown again):", data.token);
  } else if (el.dataset.showInvite !== undefined) {
    const lead = el.dataset.success ? `${el.dataset.success} ` : "";
    showSecret(result, `${lead}Invitation for ${data.email} as ${data.role}. Send them this link (shown once, valid for 7 days):`, inviteLink(data.token));
  } else {
    result.textContent = (data && typeof data.message === "string" && data.message) || el.dataset.success || "Saved.";
  }
}

async function run(el, event) {
  event.preventDefault();
  const [method, url] = el.dataset.api.split(" ");
  const result = el.querySelector?.(".form-result") || el.closest("section")?.querySelector(".form-result");
  if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return;
  const button = el.tagName === "FORM" ? el.querySelector("button[type=submit]") : el;
  if (button) button.disabled = true;
  try {
    const body = el.tagName !== "FORM" ? (el.dataset.body ? JSON.parse(el.dataset.body) : undefined)
      : el.dataset.multipart !== undefined ? new FormData(el) : formBody(el);
    const data = await api(method, url, body);
    if (el.dataset.reload !== undefined) return window.location.reload();
    if (el.dataset.redirect) return window.location.assign(el.dataset.redirect.replace("{id}", data && data.id));
    // Reset first: a shown secret lives in an <input> inside the form, which reset() clears.
    if (el.tagName === "FORM" && el.dataset.keep === undefined) el.reset();
    if (result) showSuccess(el, result, data);
    // Pages that show more of an answer (e.g. several links at once) listen for this.
    el.dispatchEvent(new CustomEvent("api:done", { bubbles: true, detail: { data, result } }));
  } catch (error) {
    if (result) { result.classList.remove("ok"); showError(result, error); }
    else window.alert(error.message);
  } finally {
    if (button) button.disabled = false;
  }
}

document.addEventListener("submit", (e) => { if (e.target.matches("form[data-api]")) run(e.target, e); });
document.addEventListener("click", (e) => {
  const el = e.target.closest("button[data-api], a[data-api]");
  if (el && !el.closest("form[data-api]")) run(el, e);
});
document.addEventListener("change", (e) => {
  const form = e.target.closest("form[data-autosubmit]");
  if (form) form.requestSubmit();
});

// Live Markdown preview: the server renders and sanitizes (labelhouse.markdown.render), so the
// HTML inserted here is the same cleaned HTML the pages show — never HTML built in the browser.
for (const area of document.querySelectorAll("textarea[data-markdown-preview]")) {
  const target = document.getElementById(area.dataset.markdownPreview);
  let timer = 0;
  let controller = null;
  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      controller?.abort();
      controller = new AbortController();
      try {
        const { html } = await api("POST", "/api/markdown/preview", { text: area.value }, { signal: controller.signal });
        target.innerHTML = html;
      } catch (error) {
        if (error.name !== "AbortError") target.textContent = `Preview unavailable: ${error.message}`;
      }
    }, 250);
  });
}

// Invitation links carry the secret in the fragment (#token=…), which is never sent to the
// server or in Referer headers; copy it into the form and drop it from the address bar.
const inviteToken = document.getElementById("invite-token");
if (inviteToken) {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (token) {
    inviteToken.value = token;
    history.replaceState(null, "", window.location.pathname);
  } else {
    document.getElementById("invite-missing").hidden = false;
  }
}
