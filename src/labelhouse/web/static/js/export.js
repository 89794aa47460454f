// The Export page: the form downloads by itself (a plain GET of the export API); this only
// turns the consensus method off while it does not apply (a disabled field is not sent),
// shows and enables the chosen format's own options (any other format would refuse them),
// leaves empty option boxes out (the format's default), and keeps the "From a script"
// command equal to what the form would download.
const form = document.getElementById("export-form");
const method = document.getElementById("export-method");
const curl = document.getElementById("export-curl");

/**
 * The export URL's query for the form's current choices: what the browser sends on submit.
 * @param {HTMLFormElement} f
 * @returns {string}
 */
const queryOf = (f) => new URLSearchParams(new FormData(f)).toString();

function update() {
  method.disabled = form.elements.content.value === "raw";
  const format = form.elements.format.value || "jsonl";
  for (const set of form.querySelectorAll("[data-format-options]")) {
    const chosen = set.dataset.formatOptions === format;
    set.hidden = !chosen;
    set.disabled = !chosen;
  }
  const picked = form.querySelector("input[name=format]:checked");
  const extension = picked?.dataset.extension || format;
  const url = new URL(form.getAttribute("action"), curl.dataset.base);
  url.search = queryOf(form);
  curl.textContent = `curl -H "Authorization: Bearer $LABELHOUSE_TOKEN" \\\n  -o export.${extension} "${url}"`;
}

if (form && method && curl) {
  form.addEventListener("change", update);
  // An option box left empty means the format's default: not sent at all.
  form.addEventListener("formdata", (event) => {
    for (const [name, value] of [...event.formData]) {
      if (value === "") event.formData.delete(name);
    }
  });
  update();
}
