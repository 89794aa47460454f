// The Export page: the form downloads by itself (a plain GET of the export API); this only
// turns the consensus method off while it does not apply (a disabled field is not sent)
// and keeps the "From a script" command equal to what the form would download.
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
  const url = new URL(form.getAttribute("action"), curl.dataset.base);
  url.search = queryOf(form);
  curl.textContent = `curl -H "Authorization: Bearer $LABELHOUSE_TOKEN" \\\n  -o export.${format} "${url}"`;
}

if (form && method && curl) {
  form.addEventListener("change", update);
  update();
}
