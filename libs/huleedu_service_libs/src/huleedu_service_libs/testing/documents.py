"""Documents tests upload, generated on the fly: real docx (python-docx), real PDFs (pypdf)."""

from __future__ import annotations

import random
from io import BytesIO

import docx
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

ESSAY = (
    "Min favoritplats är sjön bakom mormors hus. På sommaren badar vi där varje dag, "
    "och på vintern åker vi skridskor på isen. “Det är så vackert”, säger mormor – och "  # noqa: RUF001
    "hon har rätt."
)
"""An essay paragraph with Swedish letters and cp1252 punctuation (curly quotes, en dash)."""

ENGLISH_ESSAY = (
    "My favourite place is the lake behind my grandmother's house. In summer we swim "
    "there every day, and in winter we skate on the ice."
)


def docx_bytes(
    paragraphs: list[str],
    table: list[list[str]] | None = None,
    merge_first_row: bool = False,
) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row_index, row in enumerate(table):
            for column_index, value in enumerate(row):
                grid.cell(row_index, column_index).text = value
        if merge_first_row:
            grid.cell(0, 0).merge(grid.cell(0, len(table[0]) - 1))
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes(
    lines: list[str],
    *,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    """A one-page PDF whose lines are real text (Helvetica, WinAnsi), optionally encrypted."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    operations = ["BT", "/F1 11 Tf", "40 750 Td", "14 TL"]
    for line in lines:
        escaped = (
            line.encode("cp1252")
            .replace(b"\\", b"\\\\")
            .replace(b"(", b"\\(")
            .replace(b")", b"\\)")
        )
        operations.append(f"({escaped.decode('latin-1')}) Tj T*")
    operations.append("ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(operations).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)
    if user_password is not None:
        # RC4 needs no crypto library; pypdf reads it with its built-in fallback.
        writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def blank_pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def binary_garbage(size: int = 4096, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def encrypted_docx_bytes() -> bytes:
    """What Word writes for a password-protected .docx: an OLE2 file with an EncryptedPackage."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    directory = "EncryptionInfo".encode("utf-16-le") + bytes(50)
    directory += "EncryptedPackage".encode("utf-16-le") + bytes(50)
    return header + directory + binary_garbage(2048)


def legacy_doc_bytes() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "WordDocument".encode("utf-16-le")
