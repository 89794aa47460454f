// Page-wide behaviour. Forms and buttons with data-api="METHOD /url" call the JSON API
// (with the CSRF header) instead of a full page post; no inline scripts anywhere (CSP).
import { api, showError } from "./api.js";

function formBody(form) {
  const body = {};
  for (const [k, v] of new FormData(form).entries()) {
    const input = form.elements[k];
    if (input && input.type === "number") body[k] = v === "" ? null : Number(v);
    else if (input && input.type === "checkbox") body[k] = input.checked;
    else body[k] = v;
  }
  return body;
}

async function run(el, event) {
  event.preventDefault();
  const [method, url] = el.dataset.api.split(" ");
  const result = el.querySelector?.(".form-result") || el.closest("section")?.querySelector(".form-result");
  if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return;
  try {
    const data = await api(method, url, el.tagName === "FORM" ? formBody(el) : undefined);
    if (el.dataset.reload !== undefined) return window.location.reload();
    if (el.dataset.redirect) return window.location.assign(el.dataset.redirect.replace("{id}", data && data.id));
    if (result) {
      result.classList.remove("error");
      result.textContent = el.dataset.showToken !== undefined
        ? `Your token (copy it now, it will not be shown again): ${data.token}`
        : el.dataset.success || "Saved.";
    }
    if (el.tagName === "FORM" && el.dataset.keep === undefined) el.reset();
  } catch (error) {
    if (result) showError(result, error);
    else window.alert(error.message);
  }
}

document.addEventListener("submit", (e) => { if (e.target.matches("form[data-api]")) run(e.target, e); });
document.addEventListener("click", (e) => {
  const el = e.target.closest("button[data-api], a[data-api]");
  if (el && !el.closest("form[data-api]")) run(el, e);
});
