// Undo/redo of field values within one task. Pure (no DOM); tested with `node --test`.

const COALESCE_MS = 1000;

/** A stack of {field, before, after} changes; typing bursts merge into one step. */
export class UndoStack {
  constructor() {
    this.done = [];
    this.undone = [];
  }

  /**
   * Record that `field` changed from `before` to `after`.
   * @param {string} field
   * @param {*} before JSON value (copied)
   * @param {*} after JSON value (copied)
   * @param {{coalesce?: boolean, now?: number}} [options] `coalesce`: merge with the
   *   previous step if it changed the same field less than a second ago (typing)
   */
  record(field, before, after, { coalesce = false, now = Date.now() } = {}) {
    const last = this.done[this.done.length - 1];
    this.undone = [];
    if (coalesce && last && last.field === field && last.coalesce && now - last.time < COALESCE_MS) {
      last.after = copy(after);
      last.time = now;
      return;
    }
    this.done.push({ field, before: copy(before), after: copy(after), time: now, coalesce });
  }

  /** @returns {{field: string, before: *, after: *}|null} the step to revert */
  undo() {
    const step = this.done.pop();
    if (!step) return null;
    this.undone.push(step);
    return step;
  }

  /** @returns {{field: string, before: *, after: *}|null} the step to re-apply */
  redo() {
    const step = this.undone.pop();
    if (!step) return null;
    this.done.push({ ...step, coalesce: false });
    return step;
  }

  /** @returns {boolean} */
  get canUndo() { return this.done.length > 0; }

  clear() {
    this.done = [];
    this.undone = [];
  }
}

function copy(value) {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}
