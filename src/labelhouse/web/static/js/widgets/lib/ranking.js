// Pure ranking logic. An ordering is a list of *groups* (best first); each group lists the
// response indices sharing that rank — one item per group unless ties are allowed. The
// stored value is one dense rank per response, in the task's response order (1 = best).
// No DOM; tested with `node --test`.

/**
 * Groups from stored ranks (ties become one group).
 * @param {number[]} ranks one per response, 1 = best
 * @returns {number[][]}
 */
export function groupsFromRanks(ranks) {
  const byRank = new Map();
  ranks.forEach((rank, i) => {
    if (!byRank.has(rank)) byRank.set(rank, []);
    byRank.get(rank).push(i);
  });
  return [...byRank.keys()].sort((a, b) => a - b).map((r) => byRank.get(r));
}

/**
 * Dense ranks (1 = best) in the task's response order.
 * @param {number[][]} groups
 * @param {number} n number of responses
 * @returns {number[]}
 */
export function ranksFromGroups(groups, n) {
  const ranks = new Array(n).fill(null);
  groups.forEach((group, g) => group.forEach((i) => { ranks[i] = g + 1; }));
  return ranks;
}

/**
 * The items in display order.
 * @param {number[][]} groups
 * @returns {number[]}
 */
export function flatten(groups) {
  return groups.flat();
}

function without(groups, item) {
  return groups.map((g) => g.filter((i) => i !== item)).filter((g) => g.length);
}

function groupOf(groups, item) {
  return groups.findIndex((g) => g.includes(item));
}

/**
 * Move an item one step up (dir -1) or down (+1). An item tied with others first leaves its
 * group (placed just above or below it); a lone item swaps places with the neighbouring rank.
 * @param {number[][]} groups
 * @param {number} item response index
 * @param {number} dir -1 (better) or +1 (worse)
 * @returns {number[][]} a new ordering
 */
export function moveItem(groups, item, dir) {
  const g = groupOf(groups, item);
  if (g < 0) return groups;
  if (groups[g].length > 1) {
    const rest = without(groups, item);
    const at = dir < 0 ? g : g + 1;
    return [...rest.slice(0, at), [item], ...rest.slice(at)];
  }
  const target = g + dir;
  if (target < 0 || target >= groups.length) return groups;
  const out = groups.map((grp) => [...grp]);
  [out[g], out[target]] = [out[target], out[g]];
  return out;
}

/**
 * Tie an item with the rank above it (merge into the previous group).
 * @param {number[][]} groups
 * @param {number} item
 * @returns {number[][]}
 */
export function tieWithAbove(groups, item) {
  const g = groupOf(groups, item);
  if (g <= 0) return groups; // nothing above (or not found)
  const above = [...groups[g - 1], item];
  const out = groups.map((grp) => [...grp]);
  out[g - 1] = above;
  out[g] = out[g].filter((i) => i !== item);
  return out.filter((grp) => grp.length);
}

/**
 * Drop an item relative to another one (drag and drop).
 * @param {number[][]} groups
 * @param {number} item the dragged response index
 * @param {number} target the response it was dropped on
 * @param {"before"|"after"|"tie"} where
 * @returns {number[][]}
 */
export function dropItem(groups, item, target, where) {
  if (item === target) return groups;
  const rest = without(groups, item);
  const g = groupOf(rest, target);
  if (g < 0) return groups;
  if (where === "tie") return rest.map((grp, k) => (k === g ? [...grp, item] : grp));
  const at = where === "before" ? g : g + 1;
  return [...rest.slice(0, at), [item], ...rest.slice(at)];
}

/**
 * Put an item at a display position (1-based) as its own rank — "send to position k".
 * @param {number[][]} groups
 * @param {number} item
 * @param {number} position 1 = top
 * @returns {number[][]}
 */
export function placeAt(groups, item, position) {
  const rest = without(groups, item);
  const at = Math.max(0, Math.min(rest.length, position - 1));
  return [...rest.slice(0, at), [item], ...rest.slice(at)];
}
