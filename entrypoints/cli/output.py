"""What the command line prints: plain lines for people, JSON with `--json`; the work lists as a table."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from application import WorkLists
from domain.timing import to_local


def print_result(result: Any, as_json: bool) -> None:
    if isinstance(result, WorkLists) and not as_json:
        _print_work_lists(result)
        return
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_plain(result)


def _print_plain(result: Any, indent: str = "") -> None:
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, dict | list) and value:
                print(f"{indent}{key}:")
                _print_plain(value, indent + "  ")
            else:
                print(f"{indent}{key}: {value}")
    elif isinstance(result, list):
        for item in result:
            if isinstance(item, dict):
                print(f"{indent}- " + ", ".join(f"{k}={v}" for k, v in item.items() if v is not None))
            else:
                print(f"{indent}- {item}")
    else:
        print(f"{indent}{result}")


WORK_LIST_HEADINGS = {
    "vardinbjudan": "Vårdinbjudan",
    "bokningsbegaran": "Bokningsbegäran",
    "uppfoljning": "Uppföljning",
}


def _print_work_lists(lists: WorkLists) -> None:
    """V12, V13: the three lists of a clinic, in aligned columns; times in Stockholm local time."""
    rows = {
        field: [
            (
                item.request_id,
                item.state or "-",
                item.next_action or "-",
                to_local(item.next_action_at).strftime("%Y-%m-%d %H:%M") if item.next_action_at else "-",
                item.reception_id or "-",
            )
            for item in getattr(lists, field)
        ]
        for field in WORK_LIST_HEADINGS
    }
    widths = [max((len(row[i]) for group in rows.values() for row in group), default=0) for i in range(4)]
    print(f"Mitt arbetsflöde: {lists.clinic_id}")
    for field, heading in WORK_LIST_HEADINGS.items():
        print(f"\n{heading} ({len(rows[field])})")
        if not rows[field]:
            print("  (inga)")
        for request_id, state, action, at, reception in rows[field]:
            print(
                f"  {request_id:<{widths[0]}}  {state:<{widths[1]}}  {action:<{widths[2]}} {at:<{widths[3]}}"
                f"  {reception}"
            )
