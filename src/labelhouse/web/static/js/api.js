// Small fetch wrapper: JSON in/out, CSRF header from the page, one error shape.
export const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "error";
    this.details = err.details || [];
  }
}

export async function api(method, url, body, { raw = false, signal, headers: extra } = {}) {
  const headers = { ...extra, "X-CSRF-Token": csrfToken(), Accept: "application/json" };
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal });
  if (raw) return res;
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Render an ApiError into an element, naming each field problem (text only, never HTML).
export function showError(el, error) {
  el.replaceChildren();
  el.classList.add("error");
  const p = document.createElement("p");
  p.textContent = error.message;
  el.append(p);
  if (error.details && error.details.length) {
    const ul = document.createElement("ul");
    for (const d of error.details) {
      const li = document.createElement("li");
      li.textContent = `${d.field}: ${d.problem}`;
      ul.append(li);
    }
    el.append(ul);
  }
}
