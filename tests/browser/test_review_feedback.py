"""Review feedback and questions in real Chromium (issue 13): a reviewer rejects with a
reason; the annotator sees it on the projects list, in "Returned to you" and on "My
submissions", fixes the answer and resubmits it; the reviewer sees the resubmission and
accepts it; the same loop runs on a task with a field of every kind, each drawn for the
reviewer and six changed by keys alone. A question is asked, answered and read. Each step
is checked in the database."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.comments.models import TaskComment, TaskCommentRead
from labelhouse.review.models import Review, ReviewOutcome
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from tests.browser.annotate_support import field, make_project
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import annotate, fresh, new_project, new_user, text_rows
from tests.browser.test_annotate import png
from tests.browser.test_answer_display import (
    FINAL,
    NOTE,
    ROW,
    SCHEMA,
    TEXT,
    H,
    W,
    box,
    expect_box_drawn_at,
    expect_final_answer,
    span,
    value_of,
)

REASON = "Sarcasm counts as negative: see the guideline, section 2."


def new_context(browser: Browser, live) -> Page:
    context = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 800})
    return context.new_page()


def submit_one(live, actor, pid: int, label: str) -> int:
    """The annotator leases their next task and submits ``label``; its id."""
    with live.db.session() as s:
        actor = fresh(s, actor)
        lease = queue.claim_next(s, actor, pid)
        assert lease is not None
        annotations.save(s, actor, lease.task.id, value={"label": label}, lead_time_ms=1000)
        return lease.task.id


def test_reject_fix_resubmit_accept(page: Page, browser: Browser, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(2), overlap=1)
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"review_mode": "all"})
    annotator, email = new_user(live_server)
    tid = submit_one(live_server, annotator, pid, "pos")  # item-0; item-1 stays to do

    # The reviewer rejects it with a reason.
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {tid}")
    page.keyboard.press("r")
    page.locator("#rv-reason").fill(REASON)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#rv-status")).to_contain_text(f"Task {tid} rejected")

    # The annotator: a count on the projects list, then the Returned list with the reason.
    ann = new_context(browser, live_server)
    errors: list[str] = []
    ann.on("pageerror", lambda exc: errors.append(str(exc)))
    login(ann, email)
    ann.goto("/")
    returned = ann.locator(f'a.fb-returned-count[href="/projects/{pid}/annotate?returned=1"]')
    expect(returned).to_have_text("1 returned to you")
    returned.click()
    expect(ann.locator("#an-task-ref")).to_contain_text("item-1")  # the queue's next task
    panel = ann.locator("#fb-returned")
    expect(panel).to_be_visible()
    item = panel.locator(f'li[data-task="{tid}"]')
    expect(item.locator(".badge")).to_have_text("rejected")
    expect(item.locator(".fb-reason")).to_have_text(REASON)
    expect(item.locator(".fb-values")).to_contain_text("pos")
    screenshot(ann, "feedback-returned")
    # "My submissions" badges the entry too.
    ann.locator("[data-action=history]").click()
    entry = ann.locator(f'#an-history li[data-task="{tid}"]')
    expect(entry.locator(".fb-review-badge")).to_have_text("rejected")
    with live_server.db.read_session() as s:  # seen now: only fixable items still count
        seen = s.scalars(
            select(ReviewOutcome.seen_at)
            .join(Annotation, Annotation.id == ReviewOutcome.annotation_id)
            .where(Annotation.task_id == tid)
        ).one()
        assert seen is not None

    # Fix: the task comes back leased (the page's lease on item-1 is given back).
    item.get_by_role("button", name="Fix and resubmit").click()
    expect(ann.locator("#an-task-ref")).to_contain_text(f"Task #{tid}")
    expect(ann.locator("#fb-notice")).to_contain_text(REASON)
    expect(ann.locator("#an-banner")).to_contain_text("Editing your submission")
    screenshot(ann, "feedback-fixing")
    with live_server.db.read_session() as s:
        leases = dict(
            s.execute(
                select(Assignment.task_id, Assignment.status).where(
                    Assignment.user_id == annotator.user_id
                )
            ).all()
        )
        assert leases == {tid: "leased"}  # item-1's lease went back to the queue
        assert s.get(Task, tid).taken == 1
    ann.get_by_role("radiogroup", name="label").get_by_role("radio", name="neg").check()
    ann.keyboard.press("Control+Enter")
    expect(ann.locator("#an-status")).to_contain_text(f"Saved task #{tid}")
    expect(ann.locator("#an-task-ref")).to_contain_text("item-1")
    with live_server.db.read_session() as s:
        mine = s.scalars(select(Annotation).where(Annotation.task_id == tid)).one()
        assert (mine.value, mine.revision, mine.review_status) == ({"label": "neg"}, 2, None)
        annotation_id = mine.id
        revisions = s.scalars(
            select(AnnotationRevision.value)
            .where(AnnotationRevision.annotation_id == annotation_id)
            .order_by(AnnotationRevision.revision)
        ).all()
        assert revisions == [{"label": "pos"}, {"label": "neg"}]
        task = s.get(Task, tid)
        assert (task.done, task.taken, task.is_open) == (1, 1, False)

    # The reviewer is shown the new revision as a resubmission, and accepts it.
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {tid}")
    note = page.locator(".fb-resubmissions")
    expect(note).to_contain_text("resubmitted this answer after a rejection")
    expect(note).to_contain_text(REASON)
    expect(page.locator(".rv-annotation")).to_contain_text("neg")
    screenshot(page, "feedback-resubmission-in-review")
    page.keyboard.press("a")
    expect(page.locator("#rv-status")).to_contain_text(f"Task {tid} accepted")
    with live_server.db.read_session() as s:
        decisions = s.scalars(select(Review.decision).where(Review.task_id == tid)).all()
        assert decisions == ["reject", "accept"]
        outcomes = s.execute(
            select(ReviewOutcome.revision, ReviewOutcome.outcome)
            .where(ReviewOutcome.annotation_id == annotation_id)
            .order_by(ReviewOutcome.revision)
        ).all()
        assert [tuple(o) for o in outcomes] == [(1, "rejected"), (2, "accepted")]
        assert s.get(Annotation, annotation_id).review_status == "accepted"

    # The annotator's view follows: accepted on My submissions, nothing returned any more.
    ann.goto(f"/projects/{pid}/annotate")
    ann.locator("[data-action=history]").click()
    expect(ann.locator(f'#an-history li[data-task="{tid}"] .fb-review-badge')).to_have_text(
        "accepted"
    )
    ann.locator("[data-action=returned]").click()
    expect(ann.locator("#fb-returned .fb-note")).to_have_text(
        "Nothing was returned to you in this project."
    )
    ann.goto("/")
    expect(ann.locator("a.fb-returned-count")).to_have_count(0)
    ann.context.close()
    assert errors == [] and console_errors == []


def test_a_question_is_answered_and_read(page: Page, browser: Browser, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(1), overlap=1)
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"review_mode": "all"})
    annotator, email = new_user(live_server)

    # The annotator asks about the task on screen.
    ann = new_context(browser, live_server)
    login(ann, email)
    ann.goto(f"/projects/{pid}/annotate")
    expect(ann.locator("#an-task-ref")).to_contain_text("Task #")
    with live_server.db.read_session() as s:
        tid = s.scalars(select(Task.id).where(Task.project_id == pid)).one()
    ann.locator("[data-action=questions]").click()
    box = ann.get_by_label("Ask a question about this task")
    box.fill("Is <b>sarcasm</b> negative?\nIt reads positive.")
    box.press("1")  # a label key typed into the box is text, not a label
    ann.get_by_role("button", name="Ask").click()
    screenshot(ann, "feedback-question")
    expect(ann.locator("#fb-questions .fb-comment-body")).to_have_text(
        "Is <b>sarcasm</b> negative?\nIt reads positive.1"
    )
    expect(
        ann.get_by_role("radiogroup", name="label").get_by_role("radio", checked=True)
    ).to_have_count(0)
    with live_server.db.read_session() as s:
        question = s.scalars(select(TaskComment).where(TaskComment.task_id == tid)).one()
        assert (question.thread_user_id, question.author_id) == (annotator.user_id,) * 2
        asked = question.body
        assert asked == "Is <b>sarcasm</b> negative?\nIt reads positive.1"

    # A reviewer reads it on the task page (the count goes once it is on screen) and answers.
    login(page, live_server.reviewer_email)
    page.goto(f"/tasks/{tid}")
    comments = page.locator("#task-comments")
    comments.scroll_into_view_if_needed()
    expect(comments.locator(".fb-comment-body")).to_have_text(asked)
    expect(comments.locator(".fb-comment-meta strong")).to_have_text(email)
    expect(comments.locator(".fb-unread")).to_be_hidden()
    screenshot(page, "feedback-task-comments")
    comments.get_by_label(f"Answer {email}").fill("Yes: sarcasm is negative.")
    comments.get_by_role("button", name="Send answer").click()
    expect(comments.locator(".fb-comment-body")).to_have_count(2)
    with live_server.db.read_session() as s:
        answer = s.scalars(
            select(TaskComment)
            .where(TaskComment.task_id == tid)
            .order_by(TaskComment.id.desc())
            .limit(1)
        ).one()
        assert (answer.thread_user_id, answer.author_id) == (
            annotator.user_id,
            live_server.reviewer.user_id,
        )
        answer_id = answer.id
        marker = s.get(TaskCommentRead, (live_server.reviewer.user_id, tid))
        assert marker is not None and marker.last_read_id == answer_id

    # The annotator: one new answer, read when the questions are opened.
    ann.reload()
    expect(ann.locator("#an-task-ref")).to_contain_text(f"Task #{tid}")
    count = ann.locator("[data-action=questions] .fb-count")
    expect(count).to_have_text("1 new")
    ann.locator("[data-action=questions]").click()
    expect(ann.locator("#fb-questions .fb-comment-body").last).to_have_text(
        "Yes: sarcasm is negative."
    )
    expect(count).to_be_hidden()
    with live_server.db.read_session() as s:
        marker = s.get(TaskCommentRead, (annotator.user_id, tid))
        assert marker is not None and marker.last_read_id == answer_id
    unread = ann.request.get(f"/api/projects/{pid}/comments/unread").json()
    assert unread["total"] == 0

    # Submitted, the task reaches review: another of the lab's people reads the thread there.
    ann.get_by_role("radiogroup", name="label").get_by_role("radio", name="neg").check()
    ann.keyboard.press("Control+Enter")
    expect(ann.locator("#an-status")).to_contain_text(f"Saved task #{tid}")
    ann.context.close()
    owner = new_context(browser, live_server)
    login(owner, live_server.owner_email)
    owner.goto(f"/projects/{pid}/review")
    expect(owner.locator("#rv-title")).to_contain_text(f"Task {tid}")
    thread = owner.locator("details.fb-comments")
    expect(thread.locator("summary .fb-count")).to_have_text("2 unread")
    thread.locator("summary").click()
    expect(thread.locator(".fb-comment-body")).to_have_text([asked, "Yes: sarcasm is negative."])
    expect(thread.locator("summary .fb-count")).to_be_hidden()
    with live_server.db.read_session() as s:
        marker = s.get(TaskCommentRead, (live_server.owner.user_id, tid))
        assert marker is not None and marker.last_read_id == answer_id
    owner.context.close()
    assert console_errors == []


FIXED_NOTE = "Response B cites its source; A does not."
FIXED = {  # the answer after the fix: six kinds changed with the keyboard, two left alone
    **FINAL,
    "sentiment": "neg",  # key 2
    "note": FIXED_NOTE,  # typed over the old note
    "entities": [span("Ada Lovelace", "PER"), span("Babbage", "PER"), span("London", "LOC")],
    "preference": {"choice": "B", "strength": "slightly"},  # B's side letter, then 1
    "order": [3, 1, 2],  # the third (gamma) moved up one: beta, gamma, alpha
    "objects": [box(50, 20, 120, 80, "square")],  # relabelled, moved 10 px right
}
UNCHANGED = ("topics", "quality")


def test_every_kind_rejected_fixed_with_the_keyboard_and_accepted(
    page: Page, browser: Browser, live_server, console_errors
):
    """The whole review loop on a task with a field of every kind: each is drawn for the
    reviewer, six are changed on the annotate page by keys alone, the new revision is drawn
    for the reviewer again; the database holds exactly what was shown."""
    pid = make_project(live_server, SCHEMA, [ROW], images={"shapes.png": png(W, H)})
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"overlap": 1, "review_mode": "all"})
    annotator, email = new_user(live_server)
    tid = annotate(live_server, annotator, pid, {"every-kind": FINAL})["every-kind"]
    assert set(FIXED) == {f["name"] for f in SCHEMA["fields"]}
    assert [n for n in FIXED if FIXED[n] == FINAL[n]] == list(UNCHANGED)

    # The reviewer sees every kind drawn, and rejects with a reason.
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {tid}")
    card = page.locator(".rv-annotation")
    expect(card).to_have_count(1)
    expect_final_answer(card)
    expect(page.locator(".fb-resubmissions")).to_be_hidden()  # a first submission
    page.keyboard.press("r")
    page.locator("#rv-reason").fill(REASON)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#rv-status")).to_contain_text(f"Task {tid} rejected")

    # The annotator: the reason under "Returned to you", the badge on My submissions.
    ann = new_context(browser, live_server)
    errors: list[str] = []
    ann.on("pageerror", lambda exc: errors.append(str(exc)))
    login(ann, email)
    ann.goto(f"/projects/{pid}/annotate?returned=1")
    item = ann.locator(f'#fb-returned li[data-task="{tid}"]')
    expect(item.locator(".badge")).to_have_text("rejected")
    expect(item.locator(".fb-reason")).to_have_text(REASON)
    # The returned answer is drawn as on the review page, not as JSON.
    yours = item.locator(".fb-value-slot").first
    expect(value_of(yours, "sentiment").locator(".lh-d-option")).to_have_text("Positive")
    expect(value_of(yours, "entities").locator("mark.lh-d-mark")).to_have_text(
        ["Ada Lovelace", "London"]
    )
    chosen = value_of(yours, "preference").locator(".lh-response.is-chosen .lh-response-body")
    expect(chosen).to_have_text("First response")
    expect(value_of(yours, "order").locator(".lh-rank-item .lh-response-body")).to_have_text(
        ["beta", "alpha", "gamma"]
    )
    expect(value_of(yours, "objects").locator("g.lh-box text")).to_have_text("circle")
    expect(yours).not_to_contain_text('{"')
    ann.locator("[data-action=history]").click()
    expect(ann.locator(f'#an-history li[data-task="{tid}"] .fb-review-badge')).to_have_text(
        "rejected"
    )

    # Fix: the earlier answer is filled in; keys alone change six fields of six kinds.
    item.get_by_role("button", name="Fix and resubmit").click()
    expect(ann.locator("#an-task-ref")).to_contain_text(f"Task #{tid}")
    expect(ann.locator("#fb-notice")).to_contain_text(REASON)
    expect(ann.locator("#an-banner")).to_contain_text("Editing your submission (revision 1)")
    kb = ann.keyboard
    sentiment = field(ann, "sentiment")
    expect(sentiment.get_by_role("radio", name="Positive", exact=True)).to_be_checked()
    kb.press("2")  # Negative; a choice moves on to the next field (topics: left alone)
    expect(sentiment.get_by_role("radio", name="Negative", exact=True)).to_be_checked()
    expect(field(ann, "topics").locator("input").first).to_be_focused()
    kb.press("Alt+ArrowDown")  # quality: left alone
    kb.press("Alt+ArrowDown")  # note: the text box gets the focus
    note = field(ann, "note").locator("textarea")
    expect(note).to_be_focused()
    expect(note).to_have_value(NOTE)
    kb.press("Control+a")
    kb.type(FIXED_NOTE)
    kb.press("Alt+ArrowDown")  # entities: mark "Babbage" as a person
    entities = field(ann, "entities")
    expect(entities.locator(".lh-span-tag")).to_have_text(["PER", "LOC"])
    kb.press("Home")
    for _ in range(5):  # word ends: Ada, Lovelace, met, b (of <b>), Babbage
        kb.press("Control+ArrowRight")
    kb.press("Control+Shift+ArrowLeft")
    expect(entities.locator(".lh-span-status")).to_contain_text("Selected “Babbage”")
    kb.press("1")  # Person
    expect(entities.locator(".lh-span-tag")).to_have_text(["PER", "PER", "LOC"])
    kb.press("Alt+ArrowDown")  # preference: response B (on whichever side it is), slightly
    pair = field(ann, "preference")
    b_side = pair.locator('.lh-response[data-response-index="1"]').get_attribute("data-side")
    kb.press("a" if b_side == "left" else "b")
    kb.press("1")
    expect(pair.locator(".lh-response.is-chosen")).to_have_attribute("data-response-index", "1")
    letter = "A" if b_side == "left" else "B"
    expect(pair.locator(".lh-pair-summary")).to_have_text(f"{letter} is better (slightly)")
    kb.press("Alt+ArrowDown")  # order: beta, alpha, gamma → beta, gamma, alpha
    order = field(ann, "order").locator(".lh-rank-item .lh-response-body")
    expect(order).to_have_text(["beta", "alpha", "gamma"])
    kb.press("3")
    kb.press("ArrowUp")
    expect(order).to_have_text(["beta", "gamma", "alpha"])
    kb.press("Alt+ArrowDown")  # objects: select the box, relabel it, move it 10 px right
    objects = field(ann, "objects")
    ann.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    kb.press("]")
    kb.press("2")  # Square
    kb.press("Control+ArrowRight")
    expect(objects.locator(".lh-box-item")).to_have_text(["Square 50, 20 · 120×80"])
    screenshot(ann, "feedback-fix-every-kind")
    kb.press("Control+Enter")
    expect(ann.locator("#an-status")).to_contain_text(f"Saved task #{tid}")
    with live_server.db.read_session() as s:
        mine = s.scalars(select(Annotation).where(Annotation.task_id == tid)).one()
        assert (mine.revision, mine.review_status) == (2, None)
        annotation_id = mine.id

    # The reviewer is shown revision 2 as a resubmission, drawn with the new values.
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {tid}")
    resubmitted = page.locator(".fb-resubmissions")
    expect(resubmitted).to_contain_text("resubmitted this answer after a rejection (revision 2")
    expect(resubmitted.locator("q")).to_have_text(REASON)
    expect(value_of(card, "sentiment").locator(".lh-d-option")).to_have_text("Negative")
    expect(value_of(card, "topics").locator(".lh-d-options li")).to_have_text(["Shipping"])
    expect(value_of(card, "quality").locator(".lh-d-scale li.is-selected")).to_have_text("4")
    expect(value_of(card, "note").locator(".lh-d-text-body")).to_have_text(FIXED_NOTE)
    marks = value_of(card, "entities").locator("mark.lh-d-mark")
    expect(marks).to_have_text(["Ada Lovelace", "Babbage", "London"])
    expect(marks.nth(1)).to_have_attribute("data-label", "PER")
    expect(marks.nth(1)).to_have_attribute("data-start", str(TEXT.index("Babbage")))
    chosen = value_of(card, "preference").locator(".lh-response.is-chosen")
    expect(chosen).to_have_attribute("data-response-index", "1")
    expect(chosen.locator(".lh-response-body")).to_have_text("Second response")
    expect(chosen.locator(".lh-d-verdict")).to_have_text("Preferred · slightly")
    expect(value_of(card, "order").locator(".lh-rank-item .lh-response-body")).to_have_text(
        ["beta", "gamma", "alpha"]
    )
    boxes = value_of(card, "objects")
    expect(boxes.locator("g.lh-box")).to_have_attribute("data-label", "square")
    expect(boxes.locator("g.lh-box text")).to_have_text("Square")
    expect(boxes.locator("img.lh-d-box-img")).to_have_js_property("complete", True)
    expect_box_drawn_at(boxes, 0, FIXED["objects"][0])
    screenshot(page, "feedback-every-kind-resubmitted")
    page.keyboard.press("a")
    expect(page.locator("#rv-status")).to_contain_text(f"Task {tid} accepted")

    # The database: revision 2 is exactly the new values (and the old ones for the rest).
    with live_server.db.read_session() as s:
        revisions = s.scalars(
            select(AnnotationRevision.value)
            .where(AnnotationRevision.annotation_id == annotation_id)
            .order_by(AnnotationRevision.revision)
        ).all()
        assert revisions == [FINAL, FIXED]
        mine = s.get(Annotation, annotation_id)
        assert (mine.value, mine.revision, mine.review_status) == (FIXED, 2, "accepted")
        outcomes = s.execute(
            select(ReviewOutcome.revision, ReviewOutcome.outcome)
            .where(ReviewOutcome.annotation_id == annotation_id)
            .order_by(ReviewOutcome.revision)
        ).all()
        assert [tuple(o) for o in outcomes] == [(1, "rejected"), (2, "accepted")]
        reviews = s.execute(
            select(Review.decision, Review.reason).where(Review.task_id == tid).order_by(Review.id)
        ).all()
        assert [tuple(r) for r in reviews] == [("reject", REASON), ("accept", None)]
    ann.context.close()
    assert errors == [] and console_errors == []
