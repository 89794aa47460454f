// Responses a model wrote for Labelhouse (models in the loop) are told apart from those
// the task came with: {text, model, generated: true}, read from the field's own data key.
import assert from "node:assert/strict";
import { test } from "node:test";

import { isGenerated, responseTexts } from "../../src/labelhouse/web/static/js/widgets/lib/responses.js";

test("only responses marked generated count as model-generated", () => {
  const field = { name: "pref", responses: "candidates" };
  const task = {
    data: {
      candidates: [
        { text: "from the model", model: "gpt/m/v1", generated: true },
        { text: "from the file", model: "gpt/m/v1" },
        "plain",
      ],
      responses: [{ text: "other key", generated: true }],
    },
  };
  assert.deepEqual([0, 1, 2, 3].map((i) => isGenerated(field, task, i)), [true, false, false, false]);
  assert.deepEqual(responseTexts(field, task), ["from the model", "from the file", "plain"]);
  assert.equal(isGenerated({ name: "p" }, { data: { responses: [{ text: "x", generated: true }] } }, 0), true);
  assert.equal(isGenerated({ name: "p" }, { data: {} }, 0), false);
});
