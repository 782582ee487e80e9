"""HTTP header helpers with no Django imports."""

from __future__ import annotations

import posixpath
import unicodedata
from urllib.parse import quote

DEFAULT_FILENAME = "download"

# RFC 5987 attr-char, besides ALPHA and DIGIT (which quote() never escapes).
_ATTR_CHARS = "!#$&+-.^_`|~"


def clean_filename(filename: str) -> str:
    """The last path segment of ``filename``, without control characters.

    Control, format (bidirectional overrides), surrogate, private-use,
    unassigned and line/paragraph separator characters are dropped, so no
    input can break a header or disguise the extension. An empty result
    becomes ``"download"``.
    """
    name = posixpath.basename(filename.replace("\\", "/"))
    name = "".join(
        c for c in name if unicodedata.category(c)[0] != "C" and c not in "\u2028\u2029"
    ).strip()
    if name in {"", ".", ".."}:
        return DEFAULT_FILENAME
    return name


def ascii_fallback(name: str) -> str:
    """An ASCII stand-in for ``name`` for clients without RFC 5987 support."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = "".join(
        c if " " <= c <= "~" and c not in '"\\%' else "_" for c in text
    ).strip()
    stem, dot, suffix = text.rpartition(".")
    if not dot:
        stem, suffix = text, ""
    if not stem.strip("_ ."):
        # Nothing readable is left (a name in another script): keep the
        # extension so the file still opens in the right program.
        return DEFAULT_FILENAME + (f".{suffix}" if suffix.strip("_ ") else "")
    return text


def content_disposition(filename: str, *, attachment: bool = True) -> str:
    """A ``Content-Disposition`` value with both filename forms (RFC 6266 4.3).

    ``filename="..."`` is an ASCII fallback; ``filename*=utf-8''...`` (RFC 5987
    / RFC 8187) carries the exact name, percent-encoded, for every current
    browser. The value is pure printable ASCII whatever ``filename`` holds.
    """
    name = clean_filename(filename)
    kind = "attachment" if attachment else "inline"
    encoded = quote(name, safe=_ATTR_CHARS, encoding="utf-8")
    return f"{kind}; filename=\"{ascii_fallback(name)}\"; filename*=utf-8''{encoded}"
