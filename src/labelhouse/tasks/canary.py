"""Canary marks: an invisible marker, woven into the text a vendor is served, that names
the serving (the lease, ``assignment.id``) when the text turns up somewhere it should not.

A marker is a run of zero-width format characters (Unicode category Cf): a start sign,
the lease id in base 4 (four zero-width characters as digits), an 8-bit check and an end
sign. Browsers draw none of them, copy them with the text and keep them through NFC/NFKC
normalisation, ``str.strip``/``split`` whitespace clean-ups and any JSON round trip. They
are lost by anything that drops Cf characters or non-ASCII text, by retyping, by OCR of a
screenshot, and by paraphrase (see ``docs/vendors.md``).

Placement: after the first word of every sentence of a string value at least
:data:`MIN_MARKED_LENGTH` characters long, just before the space, comma or semicolon that
follows it, so copying any whole sentence keeps one marker and no word, URL or number is
split. Texts without spaces between words (Chinese, Japanese, identifiers, URLs) are not
marked.

The check only rejects stray runs of these characters; it is not a signature. Someone who
knows the scheme can write a marker naming another lease, so a trace is a lead to follow,
not proof on its own.
"""

from __future__ import annotations

import re
import zlib

START, END = "\u2063", "\u2064"  # INVISIBLE SEPARATOR, INVISIBLE PLUS
DIGITS = "\u200b\u200c\u200d\u2060"  # ZERO WIDTH SPACE, NON-JOINER, JOINER; WORD JOINER
CHECK_DIGITS = 4  # 8 bits
MIN_MARKED_LENGTH = 40
_DIGIT_VALUE = {c: i for i, c in enumerate(DIGITS)}
_FOUND = re.compile(f"{START}([{DIGITS}]{{{CHECK_DIGITS + 1},{CHECK_DIGITS + 40}}}){END}")
# The first word of a sentence: at the start of the text, after ". ", "! ", "? " or after a
# blank line; up to three leading signs (Markdown "#", "-", quotes) and a space may come
# first. The marker goes right after the word, before a space, tab, comma or semicolon.
# (Two patterns, not one with "\A|(?<=…)": a pattern starting with a character set lets the
# engine skip ahead to the next sentence end, which makes weaving several times faster.)
_FIRST_WORD = r"[^\w\s]{0,3}[ \t]?\w+(?=[ \t,;])"
_OPENING = re.compile(_FIRST_WORD)
_NEXT_SENTENCE = re.compile(r"(?:[.!?]\s|\n\n)" + _FIRST_WORD)


def _check(lease_id: int) -> int:
    return zlib.crc32(lease_id.to_bytes(8, "big")) & 0xFF


def _digits(n: int, width: int = 1) -> str:
    out: list[str] = []
    while n or len(out) < width:
        n, d = divmod(n, 4)
        out.append(DIGITS[d])
    return "".join(reversed(out))


def encode_marker(lease_id: int) -> str:
    """The marker for one serving (a lease id: ``assignment.id``, 1 … 2**63 - 1)."""
    if not 0 < lease_id < 2**63:
        raise ValueError("a lease id is a positive 64-bit integer")
    return START + _digits(lease_id) + _digits(_check(lease_id), CHECK_DIGITS) + END


def find_markers(text: str) -> list[int]:
    """The lease ids of the markers in ``text``, each once, in the order first seen; runs
    that fail their check (stray or damaged characters) are ignored."""
    found: list[int] = []
    for match in _FOUND.finditer(text):
        value = 0
        for c in match[1]:
            value = value * 4 + _DIGIT_VALUE[c]
        lease_id, check = divmod(value, 4**CHECK_DIGITS)
        if 0 < lease_id < 2**63 and check == _check(lease_id) and lease_id not in found:
            found.append(lease_id)
    return found


def weave(text: str, marker: str) -> str:
    """``text`` with ``marker`` after the first word of each sentence (unchanged if short)."""
    if len(text) < MIN_MARKED_LENGTH:
        return text
    woven = _NEXT_SENTENCE.sub(lambda m: m[0] + marker, text)
    first = _OPENING.match(woven)
    return woven if first is None else woven[: first.end()] + marker + woven[first.end() :]


def strip_markers(text: str) -> str:
    """``text`` without any marker (e.g. to compare what a vendor was shown)."""
    return _FOUND.sub("", text)
