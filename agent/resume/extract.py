"""Resume upload -> plain text, for PDF, DOCX and UTF-8/UTF-16 text.

Everything here treats the upload as hostile: the type comes from the bytes, never the filename;
sizes are checked before parsing; DOCX archives are inspected for zip bombs before python-docx sees
them; and whatever the parsers raise is translated into the domain errors of ``agent.errors``.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Literal

import docx
from docx.table import Table
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from agent.errors import (
    InterviewerError,
    InvalidInputError,
    UnreadableDocumentError,
    UnsupportedFileTypeError,
    UploadTooLargeError,
)

DocumentKind = Literal["pdf", "docx", "txt"]

_MB = 1024 * 1024
_CONTENT_TYPES: dict[DocumentKind, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain; charset=utf-8",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# The PDF spec lets a header sit anywhere in the first 1024 bytes (some generators prepend junk).
_PDF_HEADER_WINDOW = 1024
_NOT_SUPPORTED = "Unsupported file: not a PDF, DOCX or text file."
# Small entries cannot hurt however well they compress, and tiny XML parts legitimately exceed 100:1.
_RATIO_CHECK_MIN_BYTES = 1 * _MB
_MAX_RATIO = 100
_MAX_UNPRINTABLE_SHARE = 0.05
_PRINTABLE_SAMPLE_CHARS = 100_000


@dataclass(frozen=True)
class ExtractLimits:
    max_bytes: int = 5 * _MB
    max_pdf_pages: int = 20
    max_docx_uncompressed_bytes: int = 50 * _MB
    max_docx_entries: int = 2000
    max_chars: int = 60_000

    def __post_init__(self) -> None:
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidInputError(f"ExtractLimits.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ExtractedDocument:
    text: str
    # PDF: real page count. DOCX: the count Word saved in docProps/app.xml, else 1. TXT: 1.
    pages: int
    kind: DocumentKind
    # The canonical type of what the bytes turned out to be, not what the client declared.
    content_type: str


# ---------------------------------------------------------------------------------------------
# Type detection


def detect_kind(data: bytes, filename: str, declared_content_type: str | None) -> DocumentKind:
    """The real type of ``data``; ``filename`` and the declared type only shape error messages."""
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    if data.startswith(_OLE_MAGIC):
        if filename.lower().endswith(".hwp"):
            raise UnsupportedFileTypeError(
                "HWP (Hangul) files are not supported: save the resume as PDF or DOCX and upload again."
            )
        raise UnsupportedFileTypeError(
            "Legacy Word .doc files (and other OLE documents) are not supported: "
            "save the resume as DOCX or PDF and upload again."
        )
    if data.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            if _hinted_kind(filename, declared_content_type) == "docx":
                raise UnreadableDocumentError("This DOCX file is corrupt or truncated.") from exc
            raise UnsupportedFileTypeError(_NOT_SUPPORTED) from exc
        if "word/document.xml" in names:
            return "docx"
        raise UnsupportedFileTypeError(
            "Unsupported file: a ZIP archive that is not a DOCX (HWPX, ODT and Pages files included): "
            "save the resume as PDF or DOCX."
        )
    if data.lstrip()[:5] == b"{\\rtf":
        raise UnsupportedFileTypeError("RTF files are not supported: save the resume as DOCX or PDF.")
    if _decode_text(data) is not None:
        return "txt"
    if _looks_like_legacy_encoded_text(data):
        raise UnsupportedFileTypeError(
            "This text file is not UTF-8 encoded (perhaps EUC-KR/CP949): "
            "save it as UTF-8, or upload a PDF or DOCX."
        )
    raise UnsupportedFileTypeError(_NOT_SUPPORTED)


def _hinted_kind(filename: str, declared_content_type: str | None) -> DocumentKind | None:
    lowered = filename.lower()
    declared = (declared_content_type or "").split(";")[0].strip().lower()
    for kind, content_type in _CONTENT_TYPES.items():
        if lowered.endswith(f".{kind}") or declared == content_type.split(";")[0]:
            return kind
    return None


def _decode_text(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 (BOM optional) or BOM-marked UTF-16 and mostly printable."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        elif b"\x00" in data:
            return None
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    if not text:
        return text
    sample = text[:_PRINTABLE_SAMPLE_CHARS]
    unprintable = sum(
        1 for ch in sample if ch not in "\n\r\t\f" and unicodedata.category(ch) in _JUNK_CATEGORIES
    )
    return text if unprintable <= _MAX_UNPRINTABLE_SHARE * len(sample) else None


def _looks_like_legacy_encoded_text(data: bytes) -> bool:
    # Binary formats hit a control byte within the first few hundred bytes; legacy-encoded text
    # (EUC-KR, Latin-1) has none, only high bytes.
    sample = data[:4096]
    return all(byte >= 0x20 or byte in b"\t\n\r\f" for byte in sample) and any(b >= 0x80 for b in sample)


# ---------------------------------------------------------------------------------------------
# Extraction


def extract_text(
    data: bytes, filename: str, content_type: str | None, limits: ExtractLimits
) -> ExtractedDocument:
    """Plain, normalized text of a resume upload (truncated to ``limits.max_chars``)."""
    if len(data) > limits.max_bytes:
        raise UploadTooLargeError(
            f"The file is {len(data) / _MB:.1f} MB; the limit is {limits.max_bytes / _MB:g} MB."
        )
    if not data.strip():
        raise UnreadableDocumentError("The file is empty: there is no text to read.")
    kind = detect_kind(data, filename, content_type)
    if kind == "pdf":
        raw, pages = _extract_pdf(data, limits)
        raw = _clean_pdf_artifacts(raw)
    elif kind == "docx":
        raw, pages = _extract_docx(data, limits)
    else:
        decoded = _decode_text(data)
        assert decoded is not None  # detect_kind said "txt", which means it decodes
        raw, pages = decoded, 1
    text = _normalize_prefix(raw, limits.max_chars)
    if not text:
        hint = " (it may be a scanned image): upload a text-based PDF" if kind == "pdf" else ""
        raise UnreadableDocumentError(f"The document has no text to read{hint}.")
    return ExtractedDocument(
        text=text[: limits.max_chars].rstrip(), pages=pages, kind=kind, content_type=_CONTENT_TYPES[kind]
    )


def _normalize_prefix(raw: str, max_chars: int) -> str:
    """normalize_text(raw), computed only as far as the first max_chars need (a 5 MB text file is slow)."""
    window = 2 * max_chars + 1024
    while True:
        text = normalize_text(raw[:window])
        # Normalization is local, so once the output runs well past max_chars, the cut cannot matter.
        if window >= len(raw) or len(text) > max_chars + 256:
            return text
        window *= 2


def _extract_pdf(data: bytes, limits: ExtractLimits) -> tuple[str, int]:
    encrypted = UnreadableDocumentError(
        "This PDF is encrypted (password-protected): upload a copy without a password."
    )
    corrupt = UnreadableDocumentError("This PDF is corrupt or truncated and cannot be read.")
    # pypdf raises far more than PdfReadError on malformed input (KeyError, ValueError,
    # RecursionError...); this is the edge where any of them means "cannot read this upload".
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except (DependencyError, NotImplementedError) as exc:
                raise encrypted from exc
            if not unlocked:
                raise encrypted
        pages = len(reader.pages)
    except InterviewerError:
        raise
    except FileNotDecryptedError as exc:
        raise encrypted from exc
    except Exception as exc:
        raise corrupt from exc
    if pages == 0:
        raise corrupt
    if pages > limits.max_pdf_pages:
        raise UploadTooLargeError(f"The PDF has {pages} pages; the limit is {limits.max_pdf_pages}.")
    texts: list[str] = []
    try:
        for page in reader.pages:
            texts.append(page.extract_text() or "")
    except FileNotDecryptedError as exc:
        raise encrypted from exc
    except Exception as exc:
        raise corrupt from exc
    return "\n\n".join(texts), pages


def _extract_docx(data: bytes, limits: ExtractLimits) -> tuple[str, int]:
    pages = _check_docx_archive(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        # Word resumes often keep the name and contact line in the page header.
        first = document.sections[0] if len(document.sections) else None
        if first is not None and not first.header.is_linked_to_previous:
            blocks.extend(_block_texts(first.header))
        blocks.extend(_block_texts(document))
    except InterviewerError:
        raise
    except Exception as exc:
        raise UnreadableDocumentError("This DOCX file is corrupt and cannot be read.") from exc
    return "\n".join(blocks), pages


def _check_docx_archive(data: bytes, limits: ExtractLimits) -> int:
    """Reject zip bombs from the central directory alone; return the saved page count (or 1)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > limits.max_docx_entries:
                raise UploadTooLargeError(
                    f"This DOCX expands to {len(infos)} files; the limit is {limits.max_docx_entries}."
                )
            total = sum(info.file_size for info in infos)
            if total > limits.max_docx_uncompressed_bytes:
                raise UploadTooLargeError(
                    f"This DOCX expands to {total / _MB:.0f} MB; "
                    f"the limit is {limits.max_docx_uncompressed_bytes / _MB:g} MB."
                )
            for info in infos:
                if info.file_size >= _RATIO_CHECK_MIN_BYTES and (
                    info.file_size > _MAX_RATIO * max(info.compress_size, 1)
                ):
                    raise UploadTooLargeError(
                        "This DOCX expands suspiciously (an entry is compressed over "
                        f"{_MAX_RATIO}:1); it looks like a zip bomb."
                    )
            return _saved_page_count(archive)
    except InterviewerError:
        raise
    except Exception as exc:
        raise UnreadableDocumentError("This DOCX file is corrupt and cannot be read.") from exc


def _saved_page_count(archive: zipfile.ZipFile) -> int:
    try:
        app = archive.read("docProps/app.xml")
    except KeyError:
        return 1
    # The archive was size-checked above; this part is small metadata.
    match = re.search(rb"<(?:\w+:)?Pages>\s*(\d{1,5})\s*</(?:\w+:)?Pages>", app)
    return max(int(match.group(1)), 1) if match else 1


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _block_texts(container: Any) -> Iterator[str]:
    """Paragraphs, table rows and text boxes of a python-docx block container, in document order."""
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            yield from _table_texts(block)
        else:
            yield block.text
            yield from _textbox_texts(block._p)


def _table_texts(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[list[str]] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            lines = [t for t in _block_texts(cell) if t.strip()]
            if lines:
                cells.append(lines)
        if len(cells) == 1:
            # A full-width cell is a layout box (often holding a section heading): keep its lines.
            yield from cells[0]
        elif cells:
            yield " | ".join(" ".join(lines) for lines in cells)


def _textbox_texts(paragraph: Any) -> Iterator[str]:
    # Text boxes are invisible to Paragraph.text; Word stores each twice (modern + VML fallback).
    for box in paragraph.iter(f"{_W}txbxContent"):
        if any(True for _ in box.iterancestors(_MC_FALLBACK)):
            continue
        for p in box.iter(f"{_W}p"):
            yield "".join(t.text or "" for t in p.iter(f"{_W}t"))


# ---------------------------------------------------------------------------------------------
# Normalization

_JUNK_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_SPACES = re.compile(r"[^\S\n\t]+")
_TAB_RUNS = re.compile(r" *\t[ \t]*")
_BLANK_RUNS = re.compile(r"\n{3,}")
# Icon fonts without a ToUnicode map leak their glyph names, e.g. "/linkedin-in bwayne" or
# "♂¶obile-alt (123) 456-7890" (moderncv with FontAwesome). Only known icon names are replaced,
# with a label, so a bullet glued to a word ("▪built ...") is left alone.
_ICON_NAME = re.compile(r"^[ \t]*(?:/|[\u00b6\u2190-\u2bff]{1,3})([a-z]+(?:-[a-z]+)*)(?=[ \t])", re.M)
_ICON_LABELS = {
    **dict.fromkeys(("mobile-alt", "obile-alt", "mobile", "phone", "phone-alt"), "Phone:"),
    **dict.fromkeys(("linkedin", "linkedin-in"), "LinkedIn:"),
    **dict.fromkeys(("globe", "link"), "Web:"),
    "envelope": "Email:",
    "github": "GitHub:",
    "gitlab": "GitLab:",
    "map-marker-alt": "Address:",
}
_HYPHENATED_BREAK = re.compile(r"(?<=[a-z])-\n(?=[a-z])")


def _clean_pdf_artifacts(text: str) -> str:
    text = _ICON_NAME.sub(lambda m: _ICON_LABELS.get(m.group(1), m.group(0)), text)
    # TeX hyphenates words across lines ("Imple-\nmented").
    return _HYPHENATED_BREAK.sub("", text)


def normalize_text(text: str) -> str:
    """NFC, no control/format/private-use characters, single spaces, at most one blank line in a row."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", text))
    text = _LIGATURES.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = "".join(
        ch
        for ch in text
        if ch in "\n\t" or (unicodedata.category(ch) not in _JUNK_CATEGORIES and ch != "\ufffd")
    )
    text = _TAB_RUNS.sub("\t", _SPACES.sub(" ", text))
    lines = [line.strip(" \t") for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


# ---------------------------------------------------------------------------------------------
# Language


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F


def detect_language(text: str) -> Literal["en", "ko"]:
    """Korean when Hangul is over a fifth of the letters (Korean resumes are full of English terms)."""
    letters = hangul = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            hangul += _is_hangul(ch)
    return "ko" if letters and hangul / letters > 0.2 else "en"
