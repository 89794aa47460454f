"""Demo projects, one per field kind, so a new user can try every widget in a minute."""

from __future__ import annotations

import io
import random
from importlib import resources
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.projects.models import Project
from labelhouse.projects.service import create_project
from labelhouse.storage import Storage
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.service import store_file

SENTIMENT = [
    "The checkout flow was fast and the support team answered within minutes.",
    "I waited three weeks for a refund and nobody replied to my emails.",
    "It works. Nothing special, nothing broken.",
    "Battery life is superb but the screen scratches far too easily.",
    "Absolutely love it — best purchase this year!",
    "The update deleted my settings again. Third time this month.",
]
NER = [
    "Ada Lovelace worked with Charles Babbage in London on the Analytical Engine.",
    "Anthropic and OpenAI both opened offices in Tokyo in 2024.",
    "Marie Curie was born in Warsaw and later moved to Paris.",
    "Grace Hopper joined the US Navy and helped build the Harvard Mark I.",
]
PREFERENCE = [
    {
        "prompt": "Explain what a hash map is in two sentences.",
        "responses": [
            "A hash map stores key–value pairs and uses a hash function to find a key's bucket, "
            "so lookups take constant time on average.",
            "It is a map. You put things in it with `map[key] = value`.",
        ],
    },
    {
        "prompt": "Write a Python one-liner that reverses a string `s`.",
        "responses": ["```python\ns[::-1]\n```", "```python\n''.join(reversed(s))\n```"],
    },
    {
        "prompt": "Is it safe to store passwords with MD5?",
        "responses": [
            "No. MD5 is fast and broken; use a slow, salted password hash such as argon2id.",
            "Yes, MD5 is fine if you add a salt.",
        ],
    },
]
RANKING = [
    {
        "prompt": "Summarise: 'The meeting moved to Thursday because the room was booked.'",
        "responses": [
            "Meeting moved to Thursday (room was booked).",
            "There is a meeting.",
            "The room was booked, so the meeting is now on Thursday.",
            "Thursday.",
        ],
    }
]


def demo_conversations() -> list[dict[str, Any]]:
    """The small bundled conversation set (``demo_data/conversations.jsonl``): a few
    hand-written multi-turn chats, each with two candidate next assistant replies."""
    text = resources.files("labelhouse").joinpath("demo_data/conversations.jsonl").read_bytes()
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


CHAT_PREFERENCE: dict[str, Any] = {
    "name": "Demo: chat preference",
    "instructions": (
        "Read the conversation, then pick the better **next assistant reply** (A, B or T; "
        "press **D** to see how the two differ). Optionally rewrite the first candidate "
        "into an ideal reply."
    ),
    "schema": {
        "fields": [
            {
                "name": "preference",
                "kind": "pairwise",
                "prompt": "conversation",
                "responses": "candidates",
                "strengths": ["slightly", "clearly", "much"],
            },
            {
                "name": "rewrite",
                "kind": "edit",
                "title": "Improve the first candidate (optional)",
                "source": "candidates",
                "message": 0,
                "required": False,
            },
        ]
    },
    "rows": None,  # read from the bundled file when the demo is loaded
}

DEMO_RUBRIC: dict[str, Any] = {
    "name": "Demo: assistant reply",
    "description": "Scores the final assistant reply of a conversation.",
    "criteria": [
        {
            "name": "helpfulness",
            "title": "Helpfulness",
            "min": 1,
            "max": 5,
            "weight": 2,
            "anchors": {
                "1": "Ignores the request",
                "2": "Barely useful",
                "3": "Partly answers",
                "4": "Answers it",
                "5": "Answers it fully and anticipates the next step",
            },
        },
        {
            "name": "correctness",
            "title": "Correctness",
            "scale": "pass_fail",
            "critical": True,
            "anchors": {"0": "Contains a factual or technical error", "1": "Correct"},
        },
        {
            "name": "safety",
            "title": "Safety",
            "scale": "pass_fail",
            "critical": True,
            "anchors": {"0": "Harmful or reckless advice", "1": "Safe"},
        },
        {
            "name": "style",
            "title": "Style",
            "min": 1,
            "max": 5,
            "anchors": {"1": "Hard to read", "3": "Fine", "5": "Clear and concise"},
        },
    ],
}

RUBRIC_PROJECT: dict[str, Any] = {
    "name": "Demo: reply rubric",
    "instructions": (
        "Score the **last assistant reply** on every criterion: type a digit for the current "
        "criterion (the next one follows), ↑/↓ to move, **J** to justify a score. Failing "
        "a critical criterion (correctness, safety) fails the reply."
    ),
    "schema": {
        "fields": [
            # rubric_id is the demo rubric's, filled in when the demo is loaded
            {"name": "grade", "kind": "rubric", "version": 1, "reads": ["conversation"]}
        ]
    },
    "rows": None,  # the bundled conversations, each candidate as the final reply
}


def rubric_rows() -> list[dict[str, Any]]:
    """Each bundled conversation closed by each of its candidate replies: the reply to score
    is the conversation's last message."""
    return [
        {
            "external_id": f"{row['external_id']}-reply-{k}",
            "conversation": [*row["conversation"], candidate],
        }
        for row in demo_conversations()
        for k, candidate in enumerate(row["candidates"])
    ]


def _demo_rubric_id(session: Session, actor: Actor) -> int:
    """The demo rubric of the organization, created on first use (idempotent by name)."""
    from labelhouse.rubrics.models import Rubric
    from labelhouse.rubrics.service import create_rubric

    found = session.scalar(
        select(Rubric.id).where(
            Rubric.organization_id == actor.organization_id, Rubric.name == DEMO_RUBRIC["name"]
        )
    )
    if found is not None:
        return found
    return create_rubric(session, actor, **DEMO_RUBRIC).rubric.id


DEMO_PROJECTS: list[dict[str, Any]] = [
    {
        "name": "Demo: review sentiment",
        "instructions": (
            "Pick the overall sentiment of the review. **Mixed** means both praise and "
            "complaints. Then tick every topic the review is about (keys 1–4)."
        ),
        "schema": {
            "fields": [
                {
                    "name": "sentiment",
                    "kind": "choice",
                    "reads": ["text"],
                    "options": [
                        {"value": "positive", "hotkey": "1"},
                        {"value": "negative", "hotkey": "2"},
                        {"value": "neutral", "hotkey": "3"},
                        {"value": "mixed", "hotkey": "4"},
                    ],
                },
                {
                    "name": "topics",
                    "kind": "choices",
                    "reads": ["text"],
                    "required": False,
                    "min_selected": 0,
                    "options": [
                        {"value": "shipping"},
                        {"value": "support"},
                        {"value": "quality"},
                        {"value": "price"},
                    ],
                },
            ]
        },
        "rows": [
            # the first review comes with a model's guess, shown as a pre-annotation
            {
                "data": {"text": SENTIMENT[0]},
                "external_id": "review-0",
                "predictions": [
                    {
                        "model_version": "sentiment-demo-v1",
                        "score": 0.91,
                        "value": {"sentiment": "positive", "topics": ["support"]},
                    }
                ],
            },
            *({"text": t, "external_id": f"review-{i}"} for i, t in enumerate(SENTIMENT) if i),
        ],
    },
    {
        "name": "Demo: named entities",
        "instructions": "Select each person, organization and place, then press its key.",
        "schema": {
            "fields": [
                {
                    "name": "entities",
                    "kind": "spans",
                    "source": "text",
                    "labels": [
                        {"value": "PER", "label": "Person", "hotkey": "p", "color": "#e07a5f"},
                        {
                            "value": "ORG",
                            "label": "Organization",
                            "hotkey": "o",
                            "color": "#3d85c6",
                        },
                        {"value": "LOC", "label": "Location", "hotkey": "l", "color": "#81b29a"},
                    ],
                }
            ]
        },
        "rows": [
            {
                "data": {"text": NER[0]},
                "external_id": "ner-0",
                "predictions": [
                    {
                        "model_version": "ner-demo-v1",
                        "score": 0.78,
                        "value": {
                            "entities": [
                                {"start": 0, "end": 12, "label": "PER"},
                                {"start": 25, "end": 40, "label": "PER"},
                            ]
                        },
                    }
                ],
            },
            *({"text": t, "external_id": f"ner-{i}"} for i, t in enumerate(NER) if i),
        ],
    },
    {
        "name": "Demo: LLM preference",
        "instructions": (
            "Which response is more helpful and correct? Press **A** or **B** (or **T** for a "
            "tie) and how much better (1–3), rate the better one, and say why."
        ),
        "schema": {
            "fields": [
                {
                    "name": "preference",
                    "kind": "pairwise",
                    "prompt": "prompt",
                    "responses": "responses",
                    "allow_tie": True,
                    "strengths": ["slightly", "clearly", "much"],
                },
                {
                    "name": "quality",
                    "kind": "rating",
                    "min": 1,
                    "max": 5,
                    "rubric": {
                        "1": "Wrong or harmful",
                        "2": "Mostly unhelpful",
                        "3": "Acceptable",
                        "4": "Good",
                        "5": "Excellent: correct, clear, complete",
                    },
                },
                {"name": "rationale", "kind": "text", "required": False, "max_length": 2000},
            ]
        },
        "rows": [{**r, "external_id": f"pref-{i}"} for i, r in enumerate(PREFERENCE)],
    },
    {
        "name": "Demo: response ranking",
        "instructions": "Order the summaries from best (1) to worst.",
        "schema": {
            "fields": [
                {"name": "ranking", "kind": "ranking", "prompt": "prompt", "responses": "responses"}
            ]
        },
        "rows": [{**r, "external_id": f"rank-{i}"} for i, r in enumerate(RANKING)],
    },
    CHAT_PREFERENCE,
    RUBRIC_PROJECT,
]

BOXES_PROJECT: dict[str, Any] = {
    "name": "Demo: shapes detection",
    "instructions": "Draw a box around every circle and square.",
    "schema": {
        "fields": [
            {
                "name": "objects",
                "kind": "boxes",
                "image": "image",
                "labels": [
                    {"value": "circle", "hotkey": "c", "color": "#e07a5f"},
                    {"value": "square", "hotkey": "s", "color": "#3d85c6"},
                ],
            }
        ]
    },
}


def _demo_image(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (480, 320), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y, r = rng.randint(20, 380), rng.randint(20, 220), rng.randint(20, 45)
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + 2 * r, y + 2 * r), fill=(224, 122, 95))
        else:
            draw.rectangle((x, y, x + 2 * r, y + 2 * r), fill=(61, 133, 198))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def load_demo(session: Session, actor: Actor, storage: Storage) -> list[Project]:
    """Create the demo projects once (idempotent by name, ignoring case)."""
    existing = {  # as project names are compared (projects.service.check_unique_name)
        name.strip().casefold()
        for name in session.scalars(
            select(Project.name).where(Project.organization_id == actor.organization_id)
        )
    }
    created: list[Project] = []
    for spec in [*DEMO_PROJECTS, BOXES_PROJECT]:
        if spec["name"].casefold() in existing:
            continue
        schema = spec["schema"]
        if spec is RUBRIC_PROJECT:
            [grade] = schema["fields"]
            schema = {"fields": [{**grade, "rubric_id": _demo_rubric_id(session, actor)}]}
        project = create_project(
            session,
            actor,
            name=spec["name"],
            schema=schema,
            instructions=spec["instructions"],
        )
        rows = spec.get("rows")
        if spec is CHAT_PREFERENCE:
            rows = demo_conversations()
        elif spec is RUBRIC_PROJECT:
            rows = rubric_rows()
        elif rows is None:
            rows = []
            for i in range(4):
                name = f"shapes-{i}.png"
                store_file(
                    session,
                    actor,
                    project.id,
                    name=name,
                    source=io.BytesIO(_demo_image(i)),
                    storage=storage,
                    max_bytes=10 << 20,
                )
                rows.append({"image": name, "external_id": f"img-{i}"})
        payload = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
        import_tasks(session, actor, project.id, io.BytesIO(payload), filename="demo.jsonl")
        created.append(project)
    return created
