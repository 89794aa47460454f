// Finds the widget module of a field kind. The kind comes from a schema, so only known
// kinds are imported (never an arbitrary path).

/** The kinds that have a widget module next to this folder. */
export const WIDGET_KINDS = ["choice", "choices", "spans", "text", "rating", "pairwise", "ranking", "boxes", "edit", "rubric"];

const cache = new Map();

/**
 * Import (once) the widget module for a kind.
 * @param {string} kind a schema field's `kind`
 * @returns {Promise<{mount: Function, keyHelp?: Function, advancesOnKey?: boolean}>}
 */
export function loadWidget(kind) {
  if (!WIDGET_KINDS.includes(kind)) return Promise.reject(new Error(`no widget for kind '${kind}'`));
  if (!cache.has(kind)) cache.set(kind, import(`../${kind}.js`));
  return cache.get(kind);
}
