// Scrolling boxes the keyboard can reach (WCAG 2.1.1). A code block, a wide table's
// .table-scroll, a long response or text: while its content overflows it, the box gets
// tabindex=0 (arrow keys then scroll it), role=region and a name; when everything fits it
// is left as it was and adds no Tab stop. Boxes drawn later (widgets, htmx swaps) are
// picked up too. Markup that makes a box focusable itself (tabindex) is never touched.
const SELECTOR = "pre, .table-scroll, .lh-response-body, .long-text, .markdown.preview, .schema-preview, .an-side, .scroll-region";
const MARK = "scrollRegion"; // data-scroll-region="on|off": this module manages the box

function nameOf(box) {
  if (box.dataset.scrollLabel) return box.dataset.scrollLabel;
  const table = box.querySelector("table");
  const named = table?.getAttribute("aria-label") || table?.caption?.textContent?.trim();
  if (named) return named;
  const section = box.closest("section, [role=region], .card");
  const heading = section?.querySelector("h1, h2, h3, h4")?.textContent?.trim();
  if (box.tagName === "PRE") return heading ? `Code block in ${heading}` : "Code block";
  const response = box.closest(".lh-response, .lh-rank-item")?.querySelector(".lh-response-letter, .lh-rank-badge")?.textContent?.trim();
  if (response) return `Response ${response}`;
  return heading ? `${table ? "Table" : "Text"}: ${heading}` : "Scrolling content";
}

function update(box) {
  const managed = box.dataset[MARK];
  if (!managed && box.hasAttribute("tabindex")) return; // the markup's own choice
  const overflows = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
  if (overflows && managed !== "on") {
    box.dataset[MARK] = "on";
    box.tabIndex = 0;
    // a plain box becomes a named region; an <aside> or <section> keeps its own role
    if (!box.hasAttribute("role") && (box.tagName === "DIV" || box.tagName === "PRE")) {
      box.setAttribute("role", "region");
      box.dataset.scrollRole = "1";
    }
    if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
      box.setAttribute("aria-label", nameOf(box));
      box.dataset.scrollNamed = "1";
    }
  } else if (!overflows && managed === "on") {
    box.dataset[MARK] = "off";
    box.removeAttribute("tabindex");
    if (box.dataset.scrollRole) { box.removeAttribute("role"); delete box.dataset.scrollRole; }
    if (box.dataset.scrollNamed) { box.removeAttribute("aria-label"); delete box.dataset.scrollNamed; }
  }
}

const sizes = new ResizeObserver((entries) => { for (const e of entries) update(e.target); });
const watched = new WeakSet();

function watch(root) {
  const boxes = root.matches?.(SELECTOR) ? [root] : [];
  boxes.push(...(root.querySelectorAll?.(SELECTOR) ?? []));
  for (const box of boxes) {
    if (watched.has(box)) { update(box); continue; }
    watched.add(box);
    sizes.observe(box); // its first report comes right away
  }
}

new MutationObserver((records) => {
  for (const r of records) for (const node of r.addedNodes) if (node.nodeType === 1) watch(node);
}).observe(document.body, { childList: true, subtree: true });
watch(document.body);
