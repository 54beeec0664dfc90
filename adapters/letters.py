"""Letters by post (V5) as printable A4 PDFs, one file per key, idempotent per key.

`PdfLetterOutbox` writes each letter into a folder from which it is printed and posted. The file
name comes from the letter's key only, never from patient data; no exception message or log line
here contains a name, an address or a letter text.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import structlog
from fpdf import FPDF
from pydantic import AwareDatetime, Field

from domain.directory import PostalAddress
from domain.invitation_text import SIGN_OFF, swedish_date
from domain.types import ContractModel
from security.files import FILE_MODE, private_dir

__all__ = [
    "Letter",
    "LetterReceipt",
    "LetterService",
    "PdfLetterOutbox",
    "build_letters",
    "letter_file_name",
    "render_letter",
    "to_latin1",
]

log = structlog.get_logger(__name__)


class Letter(ContractModel):
    """One letter to one recipient. `key` makes sending idempotent and names the file: no patient data.

    `body` ends before the sign-off: the letter closes with `Med vänliga hälsningar` and `sender_name`.
    """

    key: str = Field(min_length=1, max_length=200)
    recipient_name: str = Field(min_length=1)
    address: PostalAddress
    sender_name: str = Field(min_length=1)
    sender_phone: str | None = None
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    date: date


class LetterReceipt(ContractModel):
    """Proof the letter was written. `path` is the file name relative to the letters folder."""

    key: str
    path: str
    created_at: AwareDatetime
    duplicate: bool = False


@runtime_checkable
class LetterService(Protocol):
    def send(self, letter: Letter) -> LetterReceipt:
        """Send once per `letter.key`; a repeated key returns the first receipt with duplicate=True."""
        ...


# --- file names -------------------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_AMBIGUOUS = re.compile(r"_[_/]|/_")
"""`/` becomes `__`, so keys with `_` next to `_` or `/` could collide: those get a hash suffix."""
_MAX_STEM = 150


def letter_file_name(key: str) -> str:
    """The PDF file name for `key`: `care-invitation-R1/invitation` → `care-invitation-R1__invitation.pdf`.

    Only [A-Za-z0-9._-] is kept (`/` becomes `__`, anything else `_`). When that mapping could make
    two keys share a name (other characters, `_` beside `_` or `/`, a leading dot, a very long key),
    a short hash of the key is appended, so different keys always get different files.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", key.replace("/", "__"))
    if not _PLAIN_KEY.match(key) or _AMBIGUOUS.search(key) or len(stem) > _MAX_STEM:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        stem = f"{stem.lstrip('.')[:_MAX_STEM]}-{digest}".lstrip("-")
    return f"{stem}.pdf"


# --- text -------------------------------------------------------------------------------------------

_TO_LATIN1 = str.maketrans(
    {
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2026": "...",
        "\u2022": "*",
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\u200b": "",  # zero-width space
        "\u20ac": "EUR",
    }
)


def to_latin1(text: str) -> str:
    """`text` with characters outside latin-1 (the core PDF fonts) replaced by close equivalents."""
    text = unicodedata.normalize("NFC", text).translate(_TO_LATIN1)
    if all(ord(c) < 256 for c in text):
        return text
    out = []
    for c in text:
        if ord(c) < 256:
            out.append(c)
            continue
        base = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
        out.append(base if base and all(ord(d) < 256 for d in base) else "?")
    return "".join(out)


# --- PDF --------------------------------------------------------------------------------------------

# Millimetres on A4. The address block sits roughly where a right-hand window envelope (Swedish "H2")
# shows it, 110 mm from the left and 45 mm from the top; adjust these to the envelopes in use.
_MARGIN = 20.0
_ADDRESS_X, _ADDRESS_Y, _ADDRESS_W = 110.0, 45.0, 80.0
_SUBJECT_Y = 95.0
_FONT = "Helvetica"


def render_letter(letter: Letter, *, compress: bool = True) -> bytes:
    """The letter as a one-or-more-page A4 PDF."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_creator("patient-messaging")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_MARGIN)
    pdf.add_page()
    width = pdf.w - 2 * _MARGIN

    # Sender, top left; date, top right.
    pdf.set_xy(_MARGIN, _MARGIN)
    pdf.set_font(_FONT, "B", 10)
    pdf.multi_cell(
        _ADDRESS_X - _MARGIN - 5, 5, to_latin1(letter.sender_name), new_x="LMARGIN", new_y="NEXT", align="L"
    )
    if letter.sender_phone:
        pdf.set_font(_FONT, "", 10)
        pdf.cell(0, 5, to_latin1(f"Telefon: {letter.sender_phone}"), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font(_FONT, "", 10)
    pdf.set_xy(_ADDRESS_X, _MARGIN)
    pdf.cell(pdf.w - _MARGIN - _ADDRESS_X, 5, swedish_date(letter.date), align="R")

    # Recipient in the window position.
    address = letter.address
    lines = [letter.recipient_name]
    if address.care_of:
        lines.append(f"c/o {address.care_of}")
    lines += [address.street, f"{_postal_code(address.postal_code)} {address.city}"]
    pdf.set_font(_FONT, "", 11)
    pdf.set_xy(_ADDRESS_X, _ADDRESS_Y)
    for line in lines:
        pdf.set_x(_ADDRESS_X)
        pdf.cell(_ADDRESS_W, 5.5, to_latin1(line), new_x="LEFT", new_y="NEXT")

    # Subject, body paragraphs and the closing: the one sign-off of the letter (the body has none).
    pdf.set_xy(_MARGIN, max(_SUBJECT_Y, pdf.get_y() + 10))
    pdf.set_font(_FONT, "B", 13)
    pdf.multi_cell(width, 6.5, to_latin1(letter.subject), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(4)
    pdf.set_font(_FONT, "", 11)
    for paragraph in _paragraphs(letter.body):
        pdf.multi_cell(width, 5.5, to_latin1(paragraph), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(3)
    pdf.ln(4)
    pdf.multi_cell(
        width,
        5.5,
        to_latin1(f"{SIGN_OFF}\n{letter.sender_name}"),
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    return bytes(pdf.output())


def _postal_code(code: str) -> str:
    """Swedish postal codes are written `123 45`."""
    digits = code.replace(" ", "")
    return f"{digits[:3]} {digits[3:]}" if len(digits) == 5 else code


def _paragraphs(body: str) -> list[str]:
    """Paragraphs separated by blank lines; single line breaks inside a paragraph are kept."""
    text = body.replace("\r\n", "\n").strip()
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


# --- outbox -----------------------------------------------------------------------------------------


class PdfLetterOutbox:
    """Letters as PDF files in `folder`, one per key, printed and posted from there.

    A key is written at most once, also across threads and processes: the PDF is written to a temp
    file and then hard-linked to its final name, which fails when the name exists (so two writers of
    one key never both report a new letter, and a crash never leaves half a PDF under the final name).
    Where hard links are not supported, `os.replace` is used instead (atomic, but not exclusive).
    """

    def __init__(self, folder: Path | str, compress: bool = True) -> None:
        self.folder = Path(folder)
        self._compress = compress

    def send(self, letter: Letter) -> LetterReceipt:
        name = letter_file_name(letter.key)
        final = self.folder / name
        if final.exists():
            return self._receipt(letter.key, final, duplicate=True)
        data = render_letter(letter, compress=self._compress)
        private_dir(self.folder)
        temp = self.folder / f".{name}.{uuid.uuid4().hex}.part"
        try:
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(temp, final)
            except FileExistsError:
                return self._receipt(letter.key, final, duplicate=True)
            except OSError:
                if final.exists():
                    return self._receipt(letter.key, final, duplicate=True)
                os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        log.info("letter_written", key=letter.key, file=name)
        return self._receipt(letter.key, final, duplicate=False)

    def letters(self) -> list[Path]:
        """The letters written so far, sorted by file name."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.pdf") if not p.name.startswith("."))

    @staticmethod
    def _receipt(key: str, path: Path, *, duplicate: bool) -> LetterReceipt:
        created_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return LetterReceipt(key=key, path=path.name, created_at=created_at, duplicate=duplicate)


def build_letters(data_dir: Path) -> PdfLetterOutbox:
    """The letter outbox at `data_dir/letters`."""
    return PdfLetterOutbox(data_dir / "letters")
