"""Issue 27, item 2: the routing plan as pure functions (which channel can reach whom, the walk)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.invitation_routing import (
    V5_PLAN,
    Reach,
    RouteChannel,
    RouteStep,
    RoutingPlan,
    asks_register,
    choose,
    refusal,
    wait_after,
)
from domain.sms_text import gsm7_length, is_gsm7, notice_text
from domain.status import Reason

FULL = RoutingPlan(
    steps=[
        RouteStep(channel=RouteChannel.INBOX_1177),
        RouteStep(channel=RouteChannel.SMS_NOTICE, after=timedelta(days=3)),
        RouteStep(channel=RouteChannel.DIGITAL_MAILBOX, after=timedelta(days=3)),
        RouteStep(channel=RouteChannel.LETTER, after=timedelta(days=4)),
    ]
)

reaches = st.builds(
    Reach,
    uses_1177=st.booleans(),
    minor=st.booleans(),
    protected_identity=st.booleans(),
    sms_allowed=st.booleans(),
    has_mailbox=st.one_of(st.none(), st.booleans()),
    has_address=st.booleans(),
    inbox_message=st.booleans(),
)


@given(reaches)
def test_routing_minors_and_protected_identities_never_get_an_sms_notice_or_a_mailbox(reach: Reach) -> None:
    shielded = reach.minor or reach.protected_identity
    for channel in (RouteChannel.SMS_NOTICE, RouteChannel.DIGITAL_MAILBOX):
        assert (refusal(channel, reach) is Reason.SHIELDED) == shielded
    if shielded:
        assert not asks_register(FULL, 0, reach)  # nor is the register asked about them


@given(reaches, st.integers(min_value=0, max_value=3))
def test_routing_choose_takes_the_first_step_from_start_that_reaches_the_patient(
    reach: Reach, start: int
) -> None:
    choice = choose(FULL, start, reach)
    usable = [i for i in range(start, 4) if refusal(FULL.steps[i].channel, reach) is None]
    assert choice.position == (usable[0] if usable else None)
    if choice.position is None:
        assert choice.reason == refusal(FULL.steps[-1].channel, reach)


@given(reaches)
def test_routing_V5_plan_is_1177_for_its_users_else_a_letter(reach: Reach) -> None:
    choice = choose(V5_PLAN, 0, reach)
    if reach.uses_1177:
        assert choice.position == 0
    elif reach.has_address:
        assert choice.position == 1
    else:
        assert choice.position is None and choice.reason is Reason.NO_POSTAL_ADDRESS
    assert wait_after(V5_PLAN, 0, channel_reports_reading=True) is None  # V5 has no fallback


def test_routing_an_sms_notice_needs_the_1177_message_it_points_to() -> None:
    reach = Reach(uses_1177=True, minor=False, protected_identity=False, sms_allowed=True, has_address=True)
    assert refusal(RouteChannel.SMS_NOTICE, reach) is Reason.NOT_1177_USER
    assert refusal(RouteChannel.SMS_NOTICE, reach.model_copy(update={"inbox_message": True})) is None
    no_consent = reach.model_copy(update={"inbox_message": True, "sms_allowed": False})
    assert refusal(RouteChannel.SMS_NOTICE, no_consent) is Reason.NO_CONSENT  # S9


def test_routing_the_walk_waits_only_while_a_1177_message_can_be_read() -> None:
    assert wait_after(FULL, 0, channel_reports_reading=True) == timedelta(days=3)
    assert wait_after(FULL, 2, channel_reports_reading=True) == timedelta(days=4)
    assert wait_after(FULL, 3, channel_reports_reading=True) is None  # the last step
    assert wait_after(FULL, 2, channel_reports_reading=False) is None  # no 1177 message to read
    stand_in = RoutingPlan(
        steps=[RouteStep(channel=RouteChannel.INBOX_1177), RouteStep(channel=RouteChannel.LETTER)]
    )
    assert wait_after(stand_in, 0, channel_reports_reading=True) is None  # the letter only stands in


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"channel": "1177"}, {"channel": "1177", "after": "P1D"}], "each channel at most once"),
        ([{"channel": "1177", "after": "P1D"}], "the first step is taken at once"),
        ([{"channel": "1177"}, {"channel": "letter", "after": "PT10S"}], "at least one minute"),
        ([{"channel": "1177"}, {"channel": "letter", "after": "P14D"}], "less than the 14 days"),
        ([{"channel": "sms_notice"}, {"channel": "1177", "after": "P1D"}], "comes after 1177"),
        ([], "at least 1 item"),
    ],
)
def test_routing_a_plan_that_cannot_be_walked_is_refused_with_one_clear_message(
    steps: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RoutingPlan.model_validate({"steps": steps})


@given(st.text(min_size=0, max_size=300))
def test_routing_S16_the_sms_notice_is_one_gsm7_segment_whatever_the_name(name: str) -> None:
    text = notice_text(name)
    assert is_gsm7(text) and gsm7_length(text) <= 160 and "1177" in text
