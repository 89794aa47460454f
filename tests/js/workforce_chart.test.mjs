// The workforce comparison chart's pure parts (layout and bars), run with `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  costBars, goldBars, layout, money, niceMax, shortName,
} from "../../src/labelhouse/web/static/js/workforce-chart.js";

const row = (name, gold, cost) => ({
  name,
  kind: "vendor",
  gold: { accuracy: gold?.[0] ?? null, low: gold?.[1] ?? null, high: gold?.[2] ?? null, checked: 10 },
  cost_per_correct: { value: cost?.[0] ?? null, low: cost?.[1] ?? null, high: cost?.[2] ?? null, currency: cost?.[3] ?? "" },
});

test("axis ends are round and never below the value", () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(0.37), 0.5);
  assert.equal(niceMax(0.5), 0.5);
  assert.equal(niceMax(1.2), 2);
  assert.equal(niceMax(2.2), 2.5);
  assert.equal(niceMax(730), 1000);
});

test("bars: gold skips workforces without gold; costs are grouped by currency", () => {
  const rows = [
    row("A", [0.9, 0.8, 0.95], [0.5, 0.45, 0.6, "USD"]),
    row("B", null, null),
    row("C", [0.6, 0.4, 0.75], [0.3, 0.2, null, "EUR"]),
    row("D", [0.7, 0.5, 0.8], [0.2, 0.15, 0.3, "USD"]),
  ];
  assert.deepEqual(goldBars(rows).map((b) => b.name), ["A", "C", "D"]);
  assert.match(goldBars(rows)[0].title, /90\.0% \(95% interval 80\.0% – 95\.0%\)/);
  const costs = costBars(rows);
  assert.deepEqual([...costs.keys()], ["USD", "EUR"]);
  assert.deepEqual(costs.get("USD").map((b) => b.name), ["A", "D"]);
  assert.match(costs.get("EUR")[0].title, /no upper bound/);
});

test("layout: the scale clamps to the axis and rows set the height", () => {
  const { height, x, ticks } = layout([{}, {}, {}], 2);
  assert.equal(height, 8 + 3 * 26 + 22);
  assert.equal(x(0), 150);
  assert.equal(x(2), 480 - 64);
  assert.equal(x(5), x(2));
  assert.equal(x(-1), x(0));
  assert.deepEqual(ticks, [0, 0.5, 1, 1.5, 2]);
});

test("names are shortened and money keeps small prices readable", () => {
  assert.equal(shortName("short"), "short");
  assert.equal(shortName("A very long vendor name indeed"), "A very long vendor …");
  assert.equal(money(1.234, "USD"), "1.23 USD");
  assert.equal(money(0.0123, ""), "0.0123");
});
