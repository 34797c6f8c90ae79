"""Format detection and text extraction on generated files of every kind the spec names."""

from __future__ import annotations

import unicodedata
import zipfile
from io import BytesIO

import pytest
from file_service.domain.extraction import (
    decode_plain_text,
    detect_format,
    extract_text,
    normalise_text,
)
from file_service.domain.outcome import ExtractedText, FileRejection

from common_core.errors import ErrorCode
from common_core.events.essay import FileFormat
from huleedu_service_libs.testing.documents import (
    ENGLISH_ESSAY,
    ESSAY,
    binary_garbage,
    blank_pdf_bytes,
    docx_bytes,
    encrypted_docx_bytes,
    legacy_doc_bytes,
    pdf_bytes,
)


def extracted(file_name: str, data: bytes) -> ExtractedText:
    result = extract_text(file_name, data)
    assert isinstance(result, ExtractedText), result
    return result


def rejected(file_name: str, data: bytes) -> FileRejection:
    result = extract_text(file_name, data)
    assert isinstance(result, FileRejection), result
    assert result.message
    return result


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(ESSAY.encode("utf-8"), id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + ESSAY.encode("utf-8"), id="utf-8-bom"),
        pytest.param(b"\xff\xfe" + ESSAY.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(b"\xfe\xff" + ESSAY.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(ESSAY.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(ESSAY.encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param(ESSAY.encode("utf-16"), id="utf-16-native-bom"),
        pytest.param(ESSAY.encode("cp1252"), id="windows-1252"),
        pytest.param(ESSAY.replace("\n", "\r\n").encode("cp1252"), id="windows-1252-crlf"),
    ],
)
def test_plain_text_in_every_encoding_reads_back_exactly(data: bytes) -> None:
    result = extracted("essay.txt", data)
    assert result.file_format is FileFormat.TXT
    assert result.text == ESSAY


def test_windows_1252_is_not_mistaken_for_central_european() -> None:
    # An unconstrained detector reads these bytes as cp1250 and turns "å" into "ĺ".
    text = "Det här är en uppsats om Åsa och Örjan. Vi äter smörgås på en fin söndag."
    assert decode_plain_text(text.encode("cp1252")) == text


def test_plain_ascii_is_read_as_is() -> None:
    assert extracted("essay.TXT", ENGLISH_ESSAY.encode("ascii")).text == ENGLISH_ESSAY


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(binary_garbage(), id="random-bytes"),
        pytest.param(b"\x7fELF\x02\x01\x01" + bytes(200) + binary_garbage(800), id="executable"),
        pytest.param(
            (ENGLISH_ESSAY + "\x01\x02\x03\x04\x05\x06\x07\x08" * 10).encode(), id="control-chars"
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n" + binary_garbage(1000, seed=3), id="image"),
    ],
)
def test_binary_named_txt_is_corrupted(data: bytes) -> None:
    result = rejected("essay.txt", data)
    assert result.code == ErrorCode.CORRUPTED_FILE
    assert result.file_format is FileFormat.TXT


def test_docx_paragraphs_and_tables_in_document_order() -> None:
    data = docx_bytes(
        ["Title of the essay", ESSAY],
        table=[["Merged heading", "ignored", "ignored"], ["left", "middle", "right"]],
        merge_first_row=True,
    )
    result = extracted("essay.docx", data)
    assert result.file_format is FileFormat.DOCX
    assert result.text.startswith(f"Title of the essay\n\n{ESSAY}\n\n")
    table_lines = result.text.split("\n\n")[2:]
    # The merged cell keeps the text of its first cell and is not repeated per column.
    assert table_lines[0].count("Merged heading") == 1
    assert table_lines[1] == "left middle right"


def test_docx_named_otherwise_is_read_by_its_content() -> None:
    result = extracted("essay", docx_bytes([ESSAY]))
    assert result.file_format is FileFormat.DOCX
    assert result.text == ESSAY


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(docx_bytes([ESSAY])[:-200], id="truncated-zip"),
        pytest.param(b"PK\x03\x04" + binary_garbage(500), id="broken-zip"),
        pytest.param(ESSAY.encode(), id="not-a-zip"),
        pytest.param(b"", id="empty"),
    ],
)
def test_corrupted_docx(data: bytes) -> None:
    result = rejected("essay.docx", data)
    assert result.code == ErrorCode.CORRUPTED_FILE
    assert result.file_format is FileFormat.DOCX


def test_zip_without_a_word_document_is_corrupted_docx() -> None:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", ESSAY)
    result = rejected("essay.docx", buffer.getvalue())
    assert result.code == ErrorCode.CORRUPTED_FILE


def test_password_protected_docx_is_encrypted() -> None:
    result = rejected("essay.docx", encrypted_docx_bytes())
    assert result.code == ErrorCode.ENCRYPTED_FILE
    assert result.file_format is FileFormat.DOCX


@pytest.mark.parametrize("file_name", ["essay.doc", "essay.docx"])
def test_legacy_word_documents_are_unsupported(file_name: str) -> None:
    result = rejected(file_name, legacy_doc_bytes())
    assert result.code == ErrorCode.UNSUPPORTED_FILE_TYPE
    assert ".docx" in result.message


def test_pdf_text_is_extracted() -> None:
    result = extracted("essay.pdf", pdf_bytes([ESSAY[:80], ESSAY[80:]]))
    assert result.file_format is FileFormat.PDF
    assert result.text == f"{ESSAY[:80]}\n{ESSAY[80:]}".replace(" \n", "\n")


def test_pdf_named_txt_is_read_as_pdf() -> None:
    assert extracted("essay.txt", pdf_bytes([ENGLISH_ESSAY])).file_format is FileFormat.PDF


def test_pdf_with_a_user_password_is_encrypted() -> None:
    result = rejected("essay.pdf", pdf_bytes([ESSAY], user_password="secret"))
    assert result.code == ErrorCode.ENCRYPTED_FILE
    assert result.file_format is FileFormat.PDF


def test_pdf_that_opens_with_an_empty_password_is_read() -> None:
    data = pdf_bytes([ENGLISH_ESSAY], user_password="", owner_password="owner-only")
    assert extracted("essay.pdf", data).text == ENGLISH_ESSAY


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"%PDF-1.7\n" + binary_garbage(3000), id="garbage-after-header"),
        pytest.param(pdf_bytes([ENGLISH_ESSAY])[:60], id="truncated"),
        pytest.param(ENGLISH_ESSAY.encode(), id="not-a-pdf"),
    ],
)
def test_corrupted_pdf(data: bytes) -> None:
    result = rejected("essay.pdf", data)
    assert result.code == ErrorCode.CORRUPTED_FILE
    assert result.file_format is FileFormat.PDF


def test_pdf_without_text_is_empty_content() -> None:
    result = rejected("scan.pdf", blank_pdf_bytes())
    assert result.code == ErrorCode.EMPTY_CONTENT
    assert "scanned" in result.message


@pytest.mark.parametrize("file_name", ["essay.odt", "essay.rtf", "photo.jpg", "essay"])
def test_other_types_are_unsupported(file_name: str) -> None:
    result = rejected(file_name, ENGLISH_ESSAY.encode())
    assert result.code == ErrorCode.UNSUPPORTED_FILE_TYPE
    assert result.file_format is None


def test_detection_uses_extension_and_content() -> None:
    assert detect_format("a.TXT", b"hello") is FileFormat.TXT
    assert detect_format("a.pdf", b"\n\n%PDF-1.4 junk") is FileFormat.PDF
    assert detect_format("a.txt", b"\n\n%PDF-1.4 junk") is FileFormat.TXT
    assert detect_format("C:\\fakepath\\a.docx", docx_bytes(["x"])) is FileFormat.DOCX


def test_normalisation_of_whitespace_and_invisible_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "Åsa")
    raw = (
        f"  {decomposed}\u00a0och\tÖrjan\u200b  \r\n"
        "andra\u00adraden\r\r\n\n\n\f"
        "sista   stycket\u2028slut \x00 "
    )
    assert normalise_text(raw) == "Åsa och Örjan\nandraraden\n\nsista stycket\nslut"
