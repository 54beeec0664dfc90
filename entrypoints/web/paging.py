"""The page links of a work list: which page of which list, as one opaque token in the query string
(`?page=…`), never patient data.

A token holds the list it belongs to (clinic, list, reception, waited), the page's number, the
counts the list's first page read (a page further on shows them rather than counting again) and the
server's page tokens of the pages up to it (the last `TRAIL` of them, so that "Föregående" can go back
that far; "Första sidan" always can). It is compressed and signed with an HMAC keyed by the session's
CSRF token: a token from another session, clinic, list or filter, or one made up, is refused as bad
input before anything reaches the Temporal server (which retries a token it cannot read for seconds).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass, replace

from application import InputError, ListCounts

TRAIL = 10
"""How many pages back "Föregående" goes (each page's server token is ~120 bytes in the link)."""
MAX_LENGTH = 4096
_MAC_BYTES = 16
_DOMAIN = b"staff-work-list-page\0"
REFUSED = "the page link does not belong to this list: start again from its first page"


@dataclass(frozen=True)
class ListView:
    """What a page is a page of: a clinic's list, with its filters."""

    clinic_id: str
    work_list: str
    reception: str
    waited: int  # days; 0: any


@dataclass(frozen=True)
class PageAt:
    """Page `number` (from 1) of `view`; `tokens`: the server's tokens of the pages up to it (the
    last one is this page's own; none for the first page); `counted`: the counts of the first page
    (None on the first page: it counts)."""

    view: ListView
    number: int = 1
    tokens: tuple[bytes, ...] = ()
    counted: ListCounts | None = None

    @property
    def token(self) -> bytes | None:
        """The server's page token of this page (None: the first)."""
        return self.tokens[-1] if self.number > 1 else None

    def following(self, server_token: bytes, counted: ListCounts) -> PageAt:
        tokens = (*self.tokens, server_token)[-TRAIL:]
        return replace(self, number=self.number + 1, tokens=tokens, counted=counted)

    def previous(self) -> PageAt | None:
        """The page before, when this link still knows its token (or it is the first)."""
        if self.number == 2:
            return PageAt(self.view)
        if self.number > 2 and len(self.tokens) >= 2:
            return replace(self, number=self.number - 1, tokens=self.tokens[:-1])
        return None


def write(page: PageAt, key: str) -> str:
    """The token of `page` for the query string (signed with `key`, the session's CSRF token)."""
    view, counted = page.view, page.counted
    counts = [counted.counts, counted.matching] if counted else None
    head = json.dumps([view.clinic_id, view.work_list, view.reception, view.waited, page.number, counts])
    body = b"".join(len(part).to_bytes(2, "big") + part for part in (head.encode(), *page.tokens))
    packed = zlib.compress(body, 9)
    return base64.urlsafe_b64encode(_mac(key, packed) + packed).rstrip(b"=").decode()


def read(token: str, view: ListView, key: str) -> PageAt:
    """The page a token names, if it is this session's token of `view`; else InputError."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InputError(REFUSED) from None
    mac, packed = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if len(token) > MAX_LENGTH or not key or not hmac.compare_digest(mac, _mac(key, packed)):
        raise InputError(REFUSED)
    parts = _split(zlib.decompress(packed))  # ours: signed above
    clinic_id, work_list, reception, waited, number, counts = json.loads(parts[0])
    if ListView(clinic_id, work_list, reception, waited) != view or number < 2 or not parts[1:] or not counts:
        raise InputError(REFUSED)
    return PageAt(view, number, tuple(parts[1:]), ListCounts(*counts))


def _mac(key: str, packed: bytes) -> bytes:
    return hmac.new(key.encode(), _DOMAIN + packed, hashlib.sha256).digest()[:_MAC_BYTES]


def _split(body: bytes) -> list[bytes]:
    parts, at = [], 0
    while at < len(body):
        size = int.from_bytes(body[at : at + 2], "big")
        parts.append(body[at + 2 : at + 2 + size])
        at += 2 + size
    return parts
