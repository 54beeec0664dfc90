"""Issue 28: `starter.py admin reply-url --clinic C` prints the `sms_url` to set on the clinic's 46elks
virtual number (the replies' URL with the number's token), and says clearly what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import starter
from application.replies import reply_token
from demo import data as fx
from infrastructure.config import Settings
from infrastructure.stores import Stores

VIRTUAL = "+46766860001"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing here needs Temporal
    monkeypatch.setenv("PM_DELIVERY_SECRET", "s3cret")
    monkeypatch.setenv("PM_PUBLIC_URL", "https://pm.region.example")
    document = fx.demo_document()
    document["clinics"][0]["reply_number"] = VIRTUAL
    Stores(Settings(data_dir=tmp_path)).directory.load_document(document)
    return tmp_path


def test_issue28_reply_url_is_the_replies_door_with_the_numbers_token(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert starter.main(["--json", "admin", "reply-url", "--clinic", "kir"]) == 0
    printed = json.loads(capsys.readouterr().out)
    token = reply_token("s3cret", VIRTUAL)
    assert printed == {
        "clinic_id": "kir",
        "reply_number": VIRTUAL,
        "sms_url": f"https://46elks:{token}@pm.region.example/callbacks/sms/46elks/replies",
    }


def test_issue28_reply_url_of_a_clinic_without_a_reply_number_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert starter.main(["admin", "reply-url", "--clinic", "onh"]) == 2
    err = capsys.readouterr().err
    assert "clinic 'onh' has no reply_number" in err and "Traceback" not in err
