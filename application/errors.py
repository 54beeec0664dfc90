"""The one error every door turns into its own refusal (CLI line, HTTP problem, page message)."""

from __future__ import annotations


class InputError(ValueError):
    """Input refused at the edge; the message says what is wrong and never repeats patient data."""


class NotFoundError(InputError):
    """No workflow with that id."""


class EndedError(InputError):
    """The workflow has ended: nothing to change."""


class RejectedError(InputError):
    """The workflow refused the change (an update validator): it conflicts with its current state."""


class ConflictError(RejectedError):
    """A request under a used id with other content than the one that used it."""
