// Pure helpers: which key selects which option. No DOM; tested with `node --test`.

/**
 * Give every option a key: its own `hotkey` when the schema sets one, else the next free
 * digit 1–9 in list order. Options past the ninth without a hotkey get none (click them).
 * @param {Array<{hotkey?: string|null}>} options
 * @returns {Array<string|null>} the key of each option, lower-case
 */
export function assignKeys(options) {
  const taken = new Set(options.map((o) => (o.hotkey ? o.hotkey.toLowerCase() : null)).filter(Boolean));
  let digit = 1;
  return options.map((o) => {
    if (o.hotkey) return o.hotkey.toLowerCase();
    while (digit <= 9 && taken.has(String(digit))) digit += 1;
    if (digit > 9) return null;
    const key = String(digit);
    taken.add(key);
    digit += 1;
    return key;
  });
}

/**
 * The index of the option a key press picks, or -1.
 * @param {Array<string|null>} keys from {@link assignKeys}
 * @param {string} key KeyboardEvent.key
 * @returns {number}
 */
export function optionForKey(keys, key) {
  if (!key || key.length !== 1) return -1;
  return keys.indexOf(key.toLowerCase());
}

/**
 * The first of `candidates` that no option uses (an option's own hotkey wins over a
 * widget's built-in key), or null.
 * @param {string[]} candidates lower-case keys, preferred first
 * @param {Array<string|null>} keys from {@link assignKeys}
 * @returns {string|null}
 */
export function freeKey(candidates, keys) {
  return candidates.find((k) => !keys.includes(k)) ?? null;
}

/**
 * Read a number typed as one or more digit presses on a scale (e.g. "1" then "0" → 10 on a
 * 0–10 scale). Returns the new buffer and the value it selects (null: nothing valid).
 * @param {string} buffer digits typed so far (reset by the caller after a pause)
 * @param {string} digit the digit just pressed
 * @param {number} min
 * @param {number} max
 * @returns {{buffer: string, value: number|null}}
 */
export function typeNumber(buffer, digit, min, max) {
  const longer = buffer + digit;
  if (buffer && Number(longer) >= min && Number(longer) <= max) return { buffer: longer, value: Number(longer) };
  const single = Number(digit);
  if (single >= min && single <= max) return { buffer: digit, value: single };
  return { buffer: "", value: null };
}
