"""Text extraction from uploaded txt, docx and pdf files.

The format is decided by the file's name AND its bytes: a PDF or Word document that a teacher
saved under the wrong name is still read for what it is, while a file named `.pdf` or `.docx`
that is something else is reported as damaged rather than misread. Every parser gets untrusted
bytes, so any failure inside a parser means "this file cannot be read", never a crash.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Iterator
from enum import Enum
from io import BytesIO
from pathlib import PurePosixPath

import docx
from charset_normalizer import from_bytes
from docx.document import Document as DocxDocument
from docx.table import Table, _Cell
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, WrongPasswordError

from common_core.errors import ErrorCode
from common_core.events.essay import FileFormat
from file_service.domain.outcome import ExtractedText, FileCheck, FileRejection

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DOCX_MAIN_PART = "word/document.xml"
# A password-protected Word document is an OLE2 file holding this stream (name in UTF-16LE).
_ENCRYPTED_PACKAGE_STREAM = "EncryptedPackage".encode("utf-16-le")
# PDF readers accept a header anywhere in the first KiB; only trusted for files named .pdf.
_PDF_HEADER_WINDOW = 1024
# A docx is a zip: refuse to inflate one whose parts claim more than this (zip bomb).
MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024

# Text that is not UTF-8/UTF-16 is read as a Western European legacy encoding: essays are in
# Swedish or English, and an unconstrained detector picks e.g. cp1250, which turns "å" into "ĺ".
_LEGACY_TEXT_ENCODINGS = ["cp1252", "iso8859_15"]
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_UTF16_SAMPLE_BYTES = 4096
# UTF-16 text in a Latin script has a NUL in (nearly) every other byte and almost none between.
_UTF16_NUL_SHARE = 0.4
_UTF16_OTHER_NUL_SHARE = 0.05
# Share of characters in a .txt that may be control/unassigned before it counts as binary.
MAX_CONTROL_CHARACTER_RATIO = 0.02
_CONTROL_SAMPLE_CHARACTERS = 100_000
_WHITESPACE_CONTROLS = frozenset("\t\n\r\f\v")
_NON_TEXT_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})

_LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u00ad\u200b\u2060\ufeff]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


class Signature(Enum):
    """What a file's leading bytes say it is."""

    PDF = "pdf"
    DOCX = "docx"
    ZIP = "zip"
    OLE2 = "ole2"
    UNKNOWN = "unknown"


def file_extension(file_name: str) -> str:
    """Lower-case extension without the dot; "" when there is none."""
    return PurePosixPath(file_name.replace("\\", "/")).suffix.lower().lstrip(".")


def sniff(data: bytes) -> Signature:
    if data.startswith(PDF_MAGIC):
        return Signature.PDF
    if data.startswith(OLE2_MAGIC):
        return Signature.OLE2
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return Signature.ZIP
        return Signature.DOCX if DOCX_MAIN_PART in names else Signature.ZIP
    return Signature.UNKNOWN


def detect_format(file_name: str, data: bytes) -> FileFormat | FileRejection:
    """The format to extract with, or why the file is not one the platform reads."""
    extension = file_extension(file_name)
    signature = sniff(data)
    if signature is Signature.PDF or (
        extension == FileFormat.PDF and PDF_MAGIC in data[:_PDF_HEADER_WINDOW]
    ):
        return FileFormat.PDF
    if signature is Signature.DOCX:
        return FileFormat.DOCX
    if extension == FileFormat.DOCX:
        if signature is Signature.OLE2:
            if _ENCRYPTED_PACKAGE_STREAM in data:
                return _encrypted(FileFormat.DOCX)
            return _legacy_word()
        return FileFormat.DOCX  # python-docx decides; a broken package is reported as corrupted
    if extension == FileFormat.PDF:
        return _corrupted(FileFormat.PDF)
    if extension == FileFormat.TXT:
        return FileFormat.TXT
    if extension == "doc" and signature is Signature.OLE2:
        return _legacy_word()
    return _unsupported(extension)


def extract_text(file_name: str, data: bytes) -> FileCheck:
    """Normalised text of a file, or why none can be had. Length limits are not checked here."""
    detected = detect_format(file_name, data)
    if isinstance(detected, FileRejection):
        return detected
    if detected is FileFormat.PDF:
        raw = _extract_pdf(data)
    elif detected is FileFormat.DOCX:
        raw = _extract_docx(data)
    else:
        raw = _extract_txt(data)
    if isinstance(raw, FileRejection):
        return raw
    return ExtractedText(text=normalise_text(raw), file_format=detected)


def normalise_text(text: str) -> str:
    """One canonical form for every format: NFC, `\\n` line ends, single spaces, ≤1 blank line.

    Invisible characters (soft hyphens, zero-width spaces, stray BOMs, C0 controls) that
    extraction leaves behind are dropped, so character counts and spellchecking see only text.
    """
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def decode_plain_text(data: bytes) -> str | None:
    """The text of a plain-text file in whichever encoding it uses; None if it is not text.

    A BOM decides; else UTF-16 is recognised by its NUL pattern; else UTF-8 if the bytes are
    valid UTF-8; else charset-normalizer chooses among the Western legacy encodings.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_strict(data[len(bom) :], codec)
    utf16 = _utf16_codec_without_bom(data)
    if utf16 is not None:
        text = _decode_strict(data, utf16)
        if text is not None:
            return text
    text = _decode_strict(data, "utf-8")
    if text is not None:
        return text
    best = from_bytes(data, cp_isolation=_LEGACY_TEXT_ENCODINGS).best()
    return None if best is None else str(best)


def looks_like_text(text: str) -> bool:
    """False for decoded binary: too many control, unassigned or private-use characters."""
    sample = text[:_CONTROL_SAMPLE_CHARACTERS]
    if not sample:
        return True
    suspicious = sum(
        1
        for char in sample
        if char not in _WHITESPACE_CONTROLS and unicodedata.category(char) in _NON_TEXT_CATEGORIES
    )
    return suspicious / len(sample) <= MAX_CONTROL_CHARACTER_RATIO


def _extract_txt(data: bytes) -> str | FileRejection:
    text = decode_plain_text(data)
    if text is None or not looks_like_text(text):
        return FileRejection(
            ErrorCode.CORRUPTED_FILE,
            "The file does not contain readable text; it may be damaged or not a text file. "
            "Open it, save it as plain text (.txt), .docx or .pdf and upload it again.",
            FileFormat.TXT,
        )
    return text


def _extract_docx(data: bytes) -> str | FileRejection:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_DOCX_UNCOMPRESSED_BYTES:
            return _corrupted(FileFormat.DOCX)
        document = docx.Document(BytesIO(data))
        blocks = [block for block in _docx_blocks(document) if block.strip()]
    except Exception:  # untrusted input: whatever the parser trips on, the file is unreadable
        return _corrupted(FileFormat.DOCX)
    return "\n\n".join(blocks)


def _docx_blocks(container: DocxDocument | _Cell) -> Iterator[str]:
    """Paragraphs and table rows in document order; a table row becomes one line."""
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                seen: set[int] = set()
                cells: list[str] = []
                for cell in row.cells:
                    # A merged cell is returned once per grid column it spans.
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    cells.append("\n".join(_docx_blocks(cell)))
                yield "\t".join(cell for cell in cells if cell.strip())
        else:
            yield item.text


def _extract_pdf(data: bytes) -> str | FileRejection:
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return _encrypted(FileFormat.PDF)
        pages = [page.extract_text() for page in reader.pages]
    except (FileNotDecryptedError, WrongPasswordError, DependencyError):
        # DependencyError: an AES-encrypted file needs a crypto library to be opened at all.
        return _encrypted(FileFormat.PDF)
    except Exception:  # untrusted input: whatever the parser trips on, the file is unreadable
        return _corrupted(FileFormat.PDF)
    text = "\n\n".join(pages)
    if not normalise_text(text):
        return FileRejection(
            ErrorCode.EMPTY_CONTENT,
            "No text could be found in the PDF; it may be a scanned image. Upload a PDF with "
            "selectable text, or the essay as .docx or .txt.",
            FileFormat.PDF,
        )
    return text


def _utf16_codec_without_bom(data: bytes) -> str | None:
    sample = data[:_UTF16_SAMPLE_BYTES]
    if len(data) % 2 or len(sample) < 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul >= _UTF16_NUL_SHARE and even_nul <= _UTF16_OTHER_NUL_SHARE:
        return "utf-16-le"
    if even_nul >= _UTF16_NUL_SHARE and odd_nul <= _UTF16_OTHER_NUL_SHARE:
        return "utf-16-be"
    return None


def _decode_strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _corrupted(file_format: FileFormat) -> FileRejection:
    label = {FileFormat.PDF: "PDF", FileFormat.DOCX: "Word document"}.get(file_format, "file")
    return FileRejection(
        ErrorCode.CORRUPTED_FILE,
        f"The {label} could not be opened; it may be damaged or not really a {label}. "
        "Open it, save it again and upload the new copy.",
        file_format,
    )


def _encrypted(file_format: FileFormat) -> FileRejection:
    label = "PDF" if file_format is FileFormat.PDF else "Word document"
    return FileRejection(
        ErrorCode.ENCRYPTED_FILE,
        f"The {label} is password-protected or encrypted. Remove the protection, save it "
        "again and upload the new copy.",
        file_format,
    )


def _legacy_word() -> FileRejection:
    return FileRejection(
        ErrorCode.UNSUPPORTED_FILE_TYPE,
        "Word 97-2003 documents (.doc) are not supported. Save the essay as .docx and upload "
        "it again.",
    )


def _unsupported(extension: str) -> FileRejection:
    what = f'".{extension}" files are' if extension else "Files without an extension are"
    return FileRejection(
        ErrorCode.UNSUPPORTED_FILE_TYPE,
        f"{what} not supported. Upload the essay as .txt, .docx or .pdf.",
    )
