// Mapping the server's validation problems onto fields. Pure; tested with `node --test`.

/**
 * Group 422 details by the schema field they are about. A detail's `field` is a path such
 * as "rationale", "entities[0].end" or "preference.choice"; its first name is the field.
 * @param {Array<{field: string, problem: string}>} details
 * @param {string[]} fieldNames the schema's field names
 * @returns {{byField: Map<string, string[]>, general: string[]}} problems per field, and
 *   the ones about no field (shown in the status line)
 */
export function groupProblems(details, fieldNames) {
  const byField = new Map();
  const general = [];
  for (const d of details || []) {
    const path = String(d.field || "");
    const name = path.split(/[.[]/, 1)[0];
    if (fieldNames.includes(name)) {
      const rest = path.slice(name.length).replace(/^\./, "");
      const text = rest ? `${rest}: ${d.problem}` : d.problem;
      if (!byField.has(name)) byField.set(name, []);
      byField.get(name).push(text === "required" ? "Required: answer this before submitting." : text);
    } else {
      general.push(path ? `${path}: ${d.problem}` : d.problem);
    }
  }
  return { byField, general };
}

/**
 * Whether a failed request is worth retrying by itself (network down, server restarting)
 * rather than needing the annotator to change something.
 * @param {{status?: number}|Error} error an ApiError or a fetch TypeError
 * @returns {boolean}
 */
export function isTransient(error) {
  const status = error && error.status;
  if (status === undefined || status === 0) return true; // fetch failed: offline, DNS, reset
  return status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
}
