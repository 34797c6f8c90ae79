"""Upload validation: size limits, essay length limits, file names, accepting batch statuses."""

from __future__ import annotations

from uuid import uuid4

import pytest
from file_service.bos_client import BatchInfo
from file_service.domain.file_names import MAX_FILE_NAME_LENGTH, UNNAMED_FILE, clean_file_name
from file_service.domain.outcome import ExtractedText, FileRejection
from file_service.domain.validation import UploadLimits, check_content, check_file_size

from common_core.errors import ErrorCode
from common_core.events.essay import FileFormat
from common_core.status import BatchStatus
from huleedu_service_libs.testing.documents import ESSAY, docx_bytes, pdf_bytes

LIMITS = UploadLimits(max_file_bytes=1000)


def test_empty_file_is_rejected_before_reading() -> None:
    rejection = check_file_size(0, LIMITS)
    assert rejection is not None
    assert rejection.code == ErrorCode.EMPTY_CONTENT


def test_file_over_the_per_file_limit_is_too_large() -> None:
    assert check_file_size(1000, LIMITS) is None
    rejection = check_file_size(1001, LIMITS)
    assert rejection is not None
    assert rejection.code == ErrorCode.FILE_TOO_LARGE


@pytest.mark.parametrize(
    ("file_name", "data"),
    [
        pytest.param("blank.txt", b" \r\n\t \n ", id="whitespace-txt"),
        pytest.param("blank.docx", docx_bytes(["", "   "]), id="empty-docx"),
    ],
)
def test_no_text_is_empty_content(file_name: str, data: bytes) -> None:
    result = check_content(file_name, data, LIMITS)
    assert isinstance(result, FileRejection)
    assert result.code == ErrorCode.EMPTY_CONTENT


@pytest.mark.parametrize(
    ("length", "code"),
    [
        (49, ErrorCode.CONTENT_TOO_SHORT),
        (50, None),
        (50_000, None),
        (50_001, ErrorCode.CONTENT_TOO_LONG),
    ],
)
def test_essay_length_limits(length: int, code: ErrorCode | None) -> None:
    words = ("ord " * length)[:length]
    text = words[:-1] + "x" if words.endswith(" ") else words
    assert len(text) == length
    result = check_content("essay.txt", text.encode(), UploadLimits(max_file_bytes=10**6))
    if code is None:
        assert isinstance(result, ExtractedText)
        assert len(result.text) == length
    else:
        assert isinstance(result, FileRejection)
        assert result.code == code
        assert result.file_format is FileFormat.TXT
        assert f"{length:,}" in result.message or str(length) in result.message


def test_length_is_counted_after_normalisation() -> None:
    padded = "   ".join(["a"] * 20)  # 77 characters raw, 39 after normalisation
    assert len(padded) >= LIMITS.min_characters
    result = check_content("essay.txt", padded.encode(), LIMITS)
    assert isinstance(result, FileRejection)
    assert result.code == ErrorCode.CONTENT_TOO_SHORT


def test_readable_files_of_each_format_pass() -> None:
    limits = UploadLimits(max_file_bytes=10**6)
    for file_name, data in [
        ("a.txt", ESSAY.encode("utf-16")),
        ("a.docx", docx_bytes([ESSAY])),
        ("a.pdf", pdf_bytes([ESSAY[:90], ESSAY[90:]])),
    ]:
        assert isinstance(check_content(file_name, data, limits), ExtractedText), file_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\fakepath\\uppsats.docx", "uppsats.docx"),
        ("/home/elev/uppsats.pdf", "uppsats.pdf"),
        ("  uppsats\u202etxt.exe ", "uppsatstxt.exe"),
        ("\x00\x01", UNNAMED_FILE),
        (None, UNNAMED_FILE),
        ("", UNNAMED_FILE),
    ],
)
def test_file_names_are_cleaned(raw: str | None, expected: str) -> None:
    assert clean_file_name(raw) == expected


def test_long_file_names_keep_their_extension() -> None:
    name = clean_file_name("a" * 400 + ".docx")
    assert len(name) == MAX_FILE_NAME_LENGTH
    assert name.endswith(".docx")


@pytest.mark.parametrize("status", list(BatchStatus))
def test_only_open_batches_accept_content(status: BatchStatus) -> None:
    batch = BatchInfo(batch_id=uuid4(), user_id="t", status=status)
    assert batch.accepts_content is (status in {BatchStatus.AWAITING_CONTENT, BatchStatus.READY})
