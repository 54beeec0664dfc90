"""Text for the Temporal Web UI, which renders a workflow's summary and details as Markdown.

Every value a caller chose (an id, a clinic, a visit type) goes through `escape_markdown` before it
is part of a static summary, static details or current details, so that nothing a caller writes is
rendered as markup: no link, image, raw HTML or autolink (issue 24, item 7; docs/security.md).
Pure code: no I/O, no Temporal.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Protocol

__all__ = ["MARKDOWN_SIGNIFICANT", "Place", "escape_markdown", "workflow_summary"]

MARKDOWN_SIGNIFICANT = frozenset(string.punctuation)
"""Every ASCII punctuation character. CommonMark lets each be backslash-escaped, and escaped it is
literal text. Besides the usual \\ ` * _ { } [ ] ( ) # + - . ! | < > ~ this covers `:` and `/` (no
`http://` autolink literal), `@` (no e-mail autolink), `&` (no entity), `"` and `'` (no link title),
`=` (no setext heading) and `$` (no math, where a renderer has it)."""

_BLANK_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Control and format characters (line breaks, tabs, bidi overrides, zero-width joiners) and the
Unicode line and paragraph separators: each becomes a space."""


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders as the text itself: every ASCII punctuation character
    backslash-escaped (`MARKDOWN_SIGNIFICANT`), so no link, image, emphasis, code span, raw HTML,
    `<…>` autolink, entity, heading, list, table or `{workflowId}` template of the Web UI can form;
    and every run of white space, control or format characters one space, so no new block (a
    heading, a list, an indented code block) can start and no bidi override can reorder the text."""
    out: list[str] = []
    blank = False
    for char in text:
        if char.isspace() or unicodedata.category(char) in _BLANK_CATEGORIES:
            if not blank:
                out.append(" ")
            blank = True
            continue
        blank = False
        out.append("\\" + char if char in MARKDOWN_SIGNIFICANT else char)
    return "".join(out)


class Place(Protocol):
    """What a summary names the place of: a booking, group or request."""

    @property
    def clinic_id(self) -> str: ...

    @property
    def reception_id(self) -> str: ...


def workflow_summary(kind: str, workflow_id: str, place: Place) -> str:
    """A workflow's static summary for the Web UI, `<kind> <workflow id> at <clinic>/<reception>`:
    `kind` is the service's own words; the ids, which the caller chose, are escaped."""
    clinic, reception = escape_markdown(place.clinic_id), escape_markdown(place.reception_id)
    return f"{kind} {escape_markdown(workflow_id)} at {clinic}/{reception}"
