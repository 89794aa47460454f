"""What an outside (vendor) workforce is shown of a task: a project's field-level policy,
applied on the server before the data leaves it (never to the lab's own views or exports).

A policy (stored as ``project.outside_policy``)::

    {"hidden_keys": ["system_prompt", "customer.id"],
     "redact": ["email", "phone", {"name": "order id", "pattern": "ORD-\\\\d{6}"}],
     "canary": true}

- ``hidden_keys``: top-level keys, or dotted paths into nested objects (a list on the way
  applies the rest of the path to each of its objects), removed from the copy.
- ``redact``: every string value, at any depth, with e-mail addresses, phone numbers and
  each custom pattern's matches replaced by a visible placeholder (``[email hidden]``,
  ``[phone hidden]``, ``[<name> hidden]``): the annotator sees that something was there.
- ``canary``: an invisible marker naming the serving woven into the text
  (:mod:`labelhouse.tasks.canary`).

Pure: plain data in, plain data out. This runs on every vendor ``/next``, so a policy is
compiled once (:func:`compile_policy`, cached) and applying it is one walk over the data.

Custom patterns are Python ``re`` patterns, which have no timeout. Rather than cap the
length of the values scanned (text past the cap would go out unredacted), a pattern must
be one whose matching time is linear in the text: at most 500 characters, no
backreferences, every count bounded (``{1,12}``, not ``+``/``*``/``{1,}``), no count
inside another variable count (``(a{1,3}){1,5}``: the nested form behind catastrophic
backtracking), a match at most :data:`MAX_MATCH_WIDTH` characters wide and not empty. What
these rules cannot see (adjacent counts over the same characters, ``\\w{0,99}\\w{0,99}x``)
is caught by timing the pattern on a few 2,000-character probe texts when it is saved.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from labelhouse.errors import ProblemCollector
from labelhouse.tasks.canary import find_markers, weave

__all__ = ["OutsidePolicy", "RedactRule", "compile_policy", "find_markers", "outside_view"]

MAX_RULES = 100  # hidden keys, and redaction rules
MAX_KEY_LENGTH = 200
MAX_PATTERN_LENGTH = 500
MAX_MATCH_WIDTH = 200
MAX_NAME_LENGTH = 60
PROBE_LENGTH = 2000
PROBE_BUDGET_SECONDS = 0.05  # a linear pattern needs well under a millisecond
BUILT_IN = ("email", "phone")
NAME = re.compile(r"\w[\w .\-]*")

# E-mail addresses are found from their "@" (a literal: the regex engine jumps from one to
# the next instead of trying every position): the domain after it, then the local part (at
# most 64 characters, a whole run of address characters) just before it.
EMAIL_DOMAIN = re.compile(r"@[\w\-]{1,63}(?:\.[\w\-]{1,63})+")
EMAIL_LOCAL = re.compile(r"(?<![\w.+\-])[\w.+\-]{1,64}\Z")
# Phone numbers as people write them: an optional +country code and (area code), then two
# to six groups of digits separated by a space, dot or dash, 7-15 digits in all (checked in
# _is_phone, which also lets dates, IP addresses and dotted thousands through). ASCII digits
# only; the leading lookahead and ASCII mode let the engine skip ahead (twice as fast).
PHONE = re.compile(
    r"(?=[+(0-9])(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?"
    r"\d{2,4}(?:[ .\-]\d{1,4}){1,5}(?!\w)",
    re.ASCII,
)
_NOT_PHONES = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{1,2}[.\-]\d{1,2}[.\-]\d{4}"  # dates
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # IPv4 addresses
    r"|\d{1,3}(?:\.\d{3})+"  # 12.000.000
)


@dataclass(frozen=True)
class RedactRule:
    """``email``, ``phone`` (built in, ``pattern`` None) or a named custom pattern."""

    name: str
    pattern: str | None = None

    @property
    def placeholder(self) -> str:
        return f"[{self.name} hidden]"

    def as_json(self) -> str | dict[str, str]:
        return self.name if self.pattern is None else {"name": self.name, "pattern": self.pattern}


@dataclass(frozen=True)
class OutsidePolicy:
    hidden_keys: tuple[str, ...] = ()
    redact: tuple[RedactRule, ...] = ()
    canary: bool = False

    @property
    def changes_data(self) -> bool:
        """Whether anything is hidden or redacted (the canary only adds)."""
        return bool(self.hidden_keys or self.redact)

    @property
    def is_empty(self) -> bool:
        return not (self.changes_data or self.canary)

    def as_json(self) -> dict[str, Any]:
        return {
            "hidden_keys": list(self.hidden_keys),
            "redact": [r.as_json() for r in self.redact],
            "canary": self.canary,
        }


# -- validation ----------------------------------------------------------------------------


def parse_policy(raw: Any) -> OutsidePolicy:
    """A policy from its JSON form (None: the empty default); InvalidInput naming every
    problem (``hidden_keys[2]``, ``redact[0].pattern``…) otherwise."""
    if raw is None:
        return OutsidePolicy()
    problems = ProblemCollector()
    if not isinstance(raw, dict):
        problems.add("outside_policy", 'expected an object {"hidden_keys", "redact", "canary"}')
        problems.raise_if_any("The outside policy is invalid.")
    for key in sorted(set(raw) - {"hidden_keys", "redact", "canary"}):
        problems.add(str(key), "unknown; allowed: hidden_keys, redact, canary")
    keys = _hidden_keys(raw.get("hidden_keys", []), problems)
    rules = _rules(raw.get("redact", []), problems)
    canary = raw.get("canary", False)
    if not isinstance(canary, bool):
        problems.add("canary", "expected true or false")
    problems.raise_if_any("The outside policy is invalid; nothing was changed.")
    return OutsidePolicy(keys, rules, canary)


def _listed(value: Any, where: str, problems: ProblemCollector) -> list[Any]:
    if not isinstance(value, list):
        problems.add(where, "expected a list")
        return []
    if len(value) > MAX_RULES:
        problems.add(where, f"{len(value)} entries; at most {MAX_RULES}")
        return []
    return value


def _hidden_keys(value: Any, problems: ProblemCollector) -> tuple[str, ...]:
    keys: list[str] = []
    for i, key in enumerate(_listed(value, "hidden_keys", problems)):
        where = f"hidden_keys[{i}]"
        if not isinstance(key, str) or not key.strip():
            problems.add(where, 'expected a key like "system_prompt" or a path like "customer.id"')
        elif len(key) > MAX_KEY_LENGTH:
            problems.add(where, f"{len(key)} characters; at most {MAX_KEY_LENGTH}")
        elif "" in key.split("."):
            problems.add(where, f"'{key}' has an empty part: write paths like 'customer.id'")
        elif key not in keys:
            keys.append(key)
    return tuple(keys)


def _rules(value: Any, problems: ProblemCollector) -> tuple[RedactRule, ...]:
    rules: list[RedactRule] = []
    for i, item in enumerate(_listed(value, "redact", problems)):
        where = f"redact[{i}]"
        if isinstance(item, str):
            if item in BUILT_IN:
                rules.append(RedactRule(item))
            else:
                problems.add(
                    where, f"unknown rule '{item[:50]}'; use email, phone or {{name, pattern}}"
                )
            continue
        if not isinstance(item, dict) or set(item) != {"name", "pattern"}:
            problems.add(where, 'expected "email", "phone" or {"name": ..., "pattern": ...}')
            continue
        name, pattern = item["name"], item["pattern"]
        if not (isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and NAME.fullmatch(name)):
            problems.add(
                f"{where}.name",
                f"1-{MAX_NAME_LENGTH} letters, digits, spaces, dots or dashes (it is shown as "
                "'[<name> hidden]')",
            )
        else:
            problem = pattern_problem(pattern)
            if problem:
                problems.add(f"{where}.pattern", problem)
            elif RedactRule(name, pattern) not in rules:
                rules.append(RedactRule(name, pattern))
    return tuple(rules)


def pattern_problem(pattern: Any) -> str | None:
    """Why a custom pattern is refused (see the module docstring), or None."""
    if not isinstance(pattern, str) or not pattern:
        return "expected a regular expression (Python syntax), e.g. ORD-\\d{6}"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"{len(pattern)} characters; at most {MAX_PATTERN_LENGTH}"
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    problem = _shape_problem(parsed)
    if problem:
        return problem
    low, high = parsed.getwidth()
    if low == 0:
        return "matches the empty text: it must match at least one character"
    if high > MAX_MATCH_WIDTH:
        return f"a match may be up to {high} characters; at most {MAX_MATCH_WIDTH}"
    return _timing_problem(compiled, parsed)


def _shape_problem(parsed: Any, inside_repeat: bool = False) -> str | None:
    for op, av in parsed:
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            return "backreferences (\\1, (?P=name), (?(1)…)) are not allowed"
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, inner = av
            if high == sre.MAXREPEAT:
                return "'+', '*' and '{n,}' have no upper count: write e.g. \\d{1,12}"
            if inside_repeat and low != high:
                return (
                    "a variable count inside a repeated group (like (a{1,3}){1,5}) can "
                    "backtrack for ever; flatten it"
                )
            problem = _shape_problem(inner, inside_repeat or high > 1)
        else:
            found = (_shape_problem(sub, inside_repeat) for sub in _children(op, av))
            problem = next((p for p in found if p), None)
        if problem:
            return problem
    return None


def _children(op: Any, av: Any) -> Iterator[Any]:
    if op == sre.SUBPATTERN:
        yield av[3]
    elif op == sre.BRANCH:
        yield from av[1]
    elif op in (sre.ASSERT, sre.ASSERT_NOT):
        yield av[1]
    elif op == sre.ATOMIC_GROUP:
        yield av


def _timing_problem(compiled: re.Pattern[str], parsed: Any) -> str | None:
    literals = "".join(sorted({chr(av) for op, av in _walk(parsed) if op == sre.LITERAL}))
    probes = ["a" * PROBE_LENGTH, "1" * PROBE_LENGTH, " " * PROBE_LENGTH, "aA1.-_@ " * 250]
    if literals:
        probes.append((literals * PROBE_LENGTH)[:PROBE_LENGTH])
    started = time.perf_counter()
    for probe in probes:
        compiled.sub("", probe)
        if time.perf_counter() - started > PROBE_BUDGET_SECONDS:
            break
    else:
        return None
    return (
        "too slow on long text (counts over the same characters side by side?); tighten the counts"
    )


def _walk(parsed: Any) -> Iterator[tuple[Any, Any]]:
    for op, av in parsed:
        yield op, av
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _walk(av[2])
        elif op == sre.IN:
            yield from av
        else:
            for sub in _children(op, av):
                yield from _walk(sub)


# -- applying a policy ---------------------------------------------------------------------

_HIDE: Any = object()  # a leaf of the hidden-keys tree


def _is_phone(text: str) -> bool:
    return 7 <= sum(c.isdigit() for c in text) <= 15 and not _NOT_PHONES.fullmatch(text)


def _fitted(placeholder: str, n: int) -> str:
    """A placeholder exactly ``n`` characters long (for texts whose offsets are answers)."""
    if n >= len(placeholder):
        return placeholder[:-1] + " " * (n - len(placeholder)) + "]"
    return "\u2588" * n  # a block per hidden character


class _Substitution:
    """One redaction rule, compiled: where its matches are, and what replaces them."""

    def __init__(
        self, pattern: re.Pattern[str], placeholder: str, accept: Callable[[str], bool] | None
    ) -> None:
        self.pattern, self.placeholder, self.accept = pattern, placeholder, accept

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        accept = self.accept
        for m in self.pattern.finditer(text):
            if accept is None or accept(m[0]):
                yield m.span()

    def apply(self, text: str, keep_length: bool) -> str:
        pieces, last = [], 0
        for start, end in self.spans(text):
            pieces.append(text[last:start])
            pieces.append(
                _fitted(self.placeholder, end - start) if keep_length else self.placeholder
            )
            last = end
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)


class _Emails(_Substitution):
    def __init__(self, placeholder: str) -> None:
        super().__init__(EMAIL_DOMAIN, placeholder, None)

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        if "@" not in text:
            return
        last = 0
        for m in EMAIL_DOMAIN.finditer(text):
            at = m.start()
            local = EMAIL_LOCAL.search(text, max(last, at - 65), at)
            if local is not None:
                yield local.start(), m.end()
                last = m.end()


class CompiledPolicy:
    """A policy ready to apply: the hidden keys as a tree, the patterns compiled."""

    def __init__(self, policy: OutsidePolicy) -> None:
        self.policy = policy
        self.hidden: dict[str, Any] = {}
        for key in policy.hidden_keys:
            self.hidden[key] = _HIDE  # a top-level key that has dots in its name
            node = self.hidden
            *path, last = key.split(".")
            for part in path:
                child = node.setdefault(part, {})
                if child is _HIDE:
                    break
                node = child
            else:
                node[last] = _HIDE
        self.substitutions = tuple(_substitution(r) for r in policy.redact)

    def text(self, text: str, marker: str | None = None, *, keep_length: bool = False) -> str:
        for s in self.substitutions:
            text = s.apply(text, keep_length)
        if marker and not keep_length:
            text = weave(text, marker)
        return text

    def walk(self, value: Any, node: Any, marker: str | None, keep_length: bool = False) -> Any:
        if isinstance(value, str):
            return self.text(value, marker, keep_length=keep_length)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                sub = node.get(key) if node else None
                if sub is not _HIDE:
                    out[key] = self.walk(item, sub, marker, keep_length)
            return out
        if isinstance(value, list):
            return [self.walk(item, node, marker, keep_length) for item in value]
        return value


def _substitution(rule: RedactRule) -> _Substitution:
    if rule.name == "email" and rule.pattern is None:
        return _Emails(rule.placeholder)
    if rule.name == "phone" and rule.pattern is None:
        return _Substitution(PHONE, rule.placeholder, _is_phone)
    return _Substitution(re.compile(rule.pattern or ""), rule.placeholder, None)


@functools.lru_cache(maxsize=256)
def compile_policy(policy: OutsidePolicy) -> CompiledPolicy:
    return CompiledPolicy(policy)


def outside_view(
    data: dict[str, Any],
    policy: OutsidePolicy | CompiledPolicy,
    *,
    marker: str | None,
    keep_length: Collection[str] = (),
) -> dict[str, Any]:
    """A copy of task ``data`` as an outside workforce may see it: hidden keys removed,
    every string redacted and, with a ``marker`` (:func:`labelhouse.tasks.canary.encode_marker`)
    and the policy's canary on, the marker woven into the text.

    ``keep_length``: top-level keys whose text must keep its length, because answers are
    offsets into it (a spans field's source) or it names a file: their placeholders are
    fitted to the length of what they replace and no marker goes in.
    """
    compiled = policy if isinstance(policy, CompiledPolicy) else compile_policy(policy)
    marker = marker if compiled.policy.canary else None
    hidden = compiled.hidden
    out = {}
    for key, value in data.items():
        node = hidden.get(key)
        if node is not _HIDE:
            out[key] = compiled.walk(value, node, marker, key in keep_length)
    return out
