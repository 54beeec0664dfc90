"""Nothing a caller writes is rendered as markup in the Temporal Web UI (issue 24, item 7): the
escaping of `domain.markdown`, and the reminder's and the request's summaries and details built with it."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.invitation import CareInvitation, InvitationState, invitation_details
from domain.markdown import escape_markdown, workflow_summary
from domain.status import NextAction, ReminderState, ReminderStatus, reminder_details
from tests.domain.test_invitation import request_data

PHISH = "[Logga in igen](http://evil.example/phish) ![i](http://evil.example/px.png)"
HOSTILE = (
    PHISH,
    "<img src=x onerror=alert(1)><script>alert(1)</script>",
    "<http://evil.example/a> www.evil.example/b https://evil.example/c evil@evil.example",
    "[ref]: http://evil.example\n[Logga in][ref]",
    "**fet** _kursiv_ `kod` ~~struken~~ | a | b |",
    "# rubrik\n- lista\n1. lista\n    kodblock\n> citat\n---\n===",
    "&#91;x&#93;&#40;http://evil.example&#41; &lt;b&gt;",
    "{workflowId} {namespace}",
    "a\\[b\\](http://evil.example) trailing backslash\\",
    "\u202eevil\u2028line\u2029par\x00nul\ttab\r\n",
)
ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
"""A CommonMark backslash escape: a backslash and an ASCII punctuation character (literal text)."""


def syntax(markdown: str) -> str:
    """What a CommonMark parser reads as possible syntax: the text without its backslash escapes."""
    return ESCAPE.sub("", markdown)


def unescape(markdown: str) -> str:
    return ESCAPE.sub(lambda m: m.group()[1], markdown)


def live_markup(markdown: str) -> list[str]:
    """The constructs in `markdown` that could render as a link, an image, raw HTML or an autolink:
    an unescaped `[`, `]`, `!`, `<` or `>`, or an unescaped `http:`, `https:`, `www.` or `@`."""
    rest = syntax(markdown)
    return re.findall(r"[\[\]!<>@]|https?:|www\.", rest, flags=re.IGNORECASE)


def blanks_collapsed(text: str) -> str:
    blank = {c for c in set(text) if c.isspace() or unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}}
    return re.sub("[" + re.escape("".join(sorted(blank))) + "]+", " ", text) if blank else text


# --- escape_markdown ----------------------------------------------------------------------------


def test_the_phishing_visit_type_of_the_issue_is_no_link_and_no_image_once_escaped() -> None:
    escaped = escape_markdown(PHISH)
    assert escaped == (
        r"\[Logga in igen\]\(http\:\/\/evil\.example\/phish\) \!\[i\]\(http\:\/\/evil\.example\/px\.png\)"
    )
    assert live_markup(escaped) == []


def test_every_markdown_significant_character_is_escaped_and_plain_text_is_kept() -> None:
    assert escape_markdown(string.punctuation) == "".join("\\" + c for c in string.punctuation)
    assert escape_markdown("ÖNH LÄK SÄSB nybesök 12") == "ÖNH LÄK SÄSB nybesök 12"
    assert escape_markdown("") == ""


def test_line_breaks_tabs_controls_and_bidi_overrides_become_one_space_so_no_block_starts() -> None:
    assert escape_markdown("a\n\n    b\r\nc\td\u2028e\u202ef\x00g") == "a b c d e f g"
    assert escape_markdown("x\n# rubrik") == r"x \# rubrik"
    assert escape_markdown("   fyra") == " fyra"  # never four spaces: no indented code block


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_output_has_no_unescaped_markdown_character_and_reads_as_the_input(text: str) -> None:
    escaped = escape_markdown(text)
    rest = syntax(escaped)
    assert not set(rest) & set(string.punctuation), rest  # no unescaped [ ] ( ) ! < > ` * _ \ …
    assert "\n" not in escaped and "\r" not in escaped
    assert "  " not in escaped  # no run of spaces: no hard break, no indented code
    assert unescape(escaped) == blanks_collapsed(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*HOSTILE, "[", "](", "http://", "<", "!", "\\", " "]), max_size=8))
def test_no_combination_of_hostile_pieces_yields_live_markup(pieces: list[str]) -> None:
    assert live_markup(escape_markdown("".join(pieces))) == []


# --- the reminder's and the request's texts for the Web UI --------------------------------------

VISIT = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)


def test_the_reminder_details_escape_the_callers_clinic_and_reception() -> None:
    for hostile in HOSTILE:
        status = ReminderStatus.model_construct(
            state=ReminderState.SCHEDULED,
            next_action=NextAction(kind="send_sms", at=VISIT),
            messages=[],
            start=VISIT,
            visit_version=1,
            clinic_id=hostile,
            reception_id="www.evil.example",
            patient="19121212-****",
            bookings=[],
            reason=None,
        )
        details = reminder_details(status)
        assert live_markup(details) == [], details
        assert details.startswith("scheduled: visit 2027-03-29T08:00:00+00:00 at ")
        assert escape_markdown(hostile) in details


def test_the_request_details_escape_the_callers_visit_type_and_keep_its_reason_out() -> None:
    for hostile in HOSTILE:
        request = CareInvitation.model_validate(request_data(visit_type=hostile[:80], reason=hostile[:200]))
        next_action = NextAction(kind="invitation", at=VISIT)
        details = invitation_details(InvitationState.SCHEDULED, request, next_action)
        assert live_markup(details) == [], details
        assert escape_markdown(request.visit_type) in details
        assert details.endswith("window 2027-03-01–2027-04-30, next invitation at 2027-03-29T08:00:00+00:00")


def test_a_workflow_summary_escapes_its_ids() -> None:
    request = CareInvitation.model_validate(request_data(clinic_id="www.evil.example", reception_id="x._y_"))
    summary = workflow_summary("Care invitation", "care-invitation:www.evil.example:req-1", request)
    assert summary == (
        r"Care invitation care\-invitation\:www\.evil\.example\:req\-1 at www\.evil\.example/x\.\_y\_"
    )
    assert live_markup(summary) == []
