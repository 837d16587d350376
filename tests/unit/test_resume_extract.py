"""Resume upload -> text: type sniffing, limits, hostile and broken files, normalization, language."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from agent.errors import (
    InvalidInputError,
    UnreadableDocumentError,
    UnsupportedFileTypeError,
    UploadTooLargeError,
)
from agent.resume.extract import (
    ExtractedDocument,
    ExtractLimits,
    detect_kind,
    detect_language,
    extract_text,
    normalize_text,
)
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import blank_pdf, docx_with_padding, encrypted_pdf

LIMITS = ExtractLimits()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200
OLE = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 500
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

EN_LINES = ["Jane Park", "Backend Engineer", "jane.park@example.com", "Experience", "Built payment systems."]
KO_LINES = ["김지은", "백엔드 개발자", "경력", "결제 시스템을 개발했습니다."]


def make_pdf(pages: list[list[str]], *, korean: bool = False) -> bytes:
    from reportlab.pdfgen import canvas

    font = "Helvetica"
    if korean:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
        font = "HYSMyeongJo-Medium"
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for lines in pages:
        pdf.setFont(font, 11)
        for i, line in enumerate(lines):
            pdf.drawString(60, 780 - 16 * i, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_docx(build: Callable[[Any], None]) -> bytes:
    import docx

    document = docx.Document()
    build(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def paragraphs_docx(lines: list[str]) -> bytes:
    def build(document: Any) -> None:
        for line in lines:
            document.add_paragraph(line)

    return make_docx(build)


def extract(data: bytes, filename: str = "resume", limits: ExtractLimits = LIMITS) -> ExtractedDocument:
    return extract_text(data, filename, "application/octet-stream", limits)


# --- limits -----------------------------------------------------------------------------------


def test_limits_defaults_and_validation() -> None:
    assert LIMITS.max_bytes == 5 * 1024 * 1024
    assert LIMITS.max_pdf_pages == 20
    assert LIMITS.max_chars == 60_000
    for bad in ({"max_bytes": 0}, {"max_pdf_pages": -1}, {"max_docx_entries": 0}, {"max_chars": 0}):
        with pytest.raises(InvalidInputError):
            ExtractLimits(**bad)


def test_upload_over_size_limit_names_the_limit_in_mb() -> None:
    huge = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10)
    with pytest.raises(UploadTooLargeError, match="5 MB"):
        extract(huge, "huge.pdf")


def test_size_is_checked_before_the_type() -> None:
    with pytest.raises(UploadTooLargeError):
        extract(PNG * 10, "photo.png", ExtractLimits(max_bytes=100))


# --- type detection ---------------------------------------------------------------------------


def test_detect_kind_uses_bytes_not_names() -> None:
    assert detect_kind(make_pdf([EN_LINES]), "resume.txt", "text/plain") == "pdf"
    assert detect_kind(paragraphs_docx(EN_LINES), "resume.pdf", "application/pdf") == "docx"
    assert detect_kind(b"Jane Park\nEngineer", "resume.pdf", "application/pdf") == "txt"


def test_png_renamed_pdf_is_unsupported() -> None:
    with pytest.raises(UnsupportedFileTypeError, match="not a PDF, DOCX or text file"):
        extract_text(PNG, "resume.pdf", "application/pdf", LIMITS)


def test_legacy_doc_asks_for_docx_or_pdf() -> None:
    with pytest.raises(UnsupportedFileTypeError, match="DOCX or PDF"):
        extract(OLE, "resume.doc")


def test_hwp_gets_its_own_hint() -> None:
    with pytest.raises(UnsupportedFileTypeError, match="HWP"):
        extract(OLE, "이력서.hwp")


def test_zip_that_is_not_docx_is_unsupported() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("Contents/section0.xml", "<hwpx/>")
    with pytest.raises(UnsupportedFileTypeError, match="not a DOCX"):
        extract(buf.getvalue(), "resume.hwpx")


def test_broken_zip_is_corrupt_docx_when_named_docx_else_unsupported() -> None:
    broken = b"PK\x03\x04" + b"\x00" * 300
    with pytest.raises(UnreadableDocumentError, match="corrupt"):
        extract(broken, "resume.docx")
    with pytest.raises(UnreadableDocumentError, match="corrupt"):
        extract_text(broken, "upload", DOCX_TYPE, LIMITS)
    with pytest.raises(UnsupportedFileTypeError):
        extract(broken, "archive.bin")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02\x03binary\xff\xfe\x00" * 20,
        "Jane Park".encode("utf-16-le"),  # UTF-16 without a BOM: NUL bytes, refused
        b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
    ],
)
def test_binary_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFileTypeError):
        extract(data, "resume.txt")


def test_legacy_korean_encoding_asks_for_utf8() -> None:
    with pytest.raises(UnsupportedFileTypeError, match="UTF-8"):
        extract("김지은\n백엔드 개발자\n".encode("cp949"), "resume.txt")


def test_rtf_is_unsupported() -> None:
    with pytest.raises(UnsupportedFileTypeError, match="RTF"):
        extract(b"{\\rtf1\\ansi Jane Park}", "resume.rtf")


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_text_encodings(encoding: str) -> None:
    doc = extract("김지은\nBackend Engineer\n".encode(encoding), "resume.txt")
    assert doc.kind == "txt"
    assert doc.text == "김지은\nBackend Engineer"
    assert doc.content_type.startswith("text/plain")
    assert doc.pages == 1


def test_utf16_big_endian_with_bom() -> None:
    data = b"\xfe\xff" + "Jane Park\nEngineer".encode("utf-16-be")
    assert extract(data, "resume.txt").text == "Jane Park\nEngineer"


@pytest.mark.parametrize("data", [b"", b"   \n\n  \t", "\ufeff  \n".encode()])
def test_empty_or_whitespace_has_no_text(data: bytes) -> None:
    with pytest.raises(UnreadableDocumentError, match="no text"):
        extract(data, "resume.txt")


def test_long_text_is_truncated_not_rejected() -> None:
    doc = extract(("word " * 5000).encode(), "resume.txt", ExtractLimits(max_chars=1000))
    assert len(doc.text) <= 1000
    assert doc.text.startswith("word word")


def test_normalization() -> None:
    decomposed = unicodedata.normalize("NFD", "최민수 café")
    raw = (
        f"{decomposed}\r\n"
        "Phone\uf0e0  010-1234-5678\x07\u200b\n"  # icon-font glyph, BEL, zero-width space
        "Skills:\u00a0\u00a0Python,\tGo   \n\n\n\n\n"
        "\ufb01nance \ufb02ow"  # ligatures from PDF fonts
    )
    assert normalize_text(raw) == "최민수 café\nPhone 010-1234-5678\nSkills: Python,\tGo\n\nfinance flow"


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_round_trip() -> None:
    doc = extract(make_pdf([EN_LINES, ["Skills", "Python, Go"]]), "resume.pdf")
    assert doc.kind == "pdf"
    assert doc.pages == 2
    assert doc.content_type == "application/pdf"
    assert doc.text.splitlines()[:2] == ["Jane Park", "Backend Engineer"]
    assert "Python, Go" in doc.text


def test_korean_pdf_round_trip() -> None:
    # No skip when the Hangul does not come back: losing it is exactly the failure this test is for.
    doc = extract(make_pdf([KO_LINES], korean=True), "이력서.pdf")
    assert doc.text.splitlines() == KO_LINES
    assert detect_language(doc.text) == "ko"


def test_pdf_over_page_limit() -> None:
    with pytest.raises(UploadTooLargeError, match="3 pages"):
        extract(make_pdf([EN_LINES] * 3), "resume.pdf", ExtractLimits(max_pdf_pages=2))


def test_encrypted_pdf_is_refused() -> None:
    with pytest.raises(UnreadableDocumentError, match="encrypted"):
        extract(encrypted_pdf(make_pdf([EN_LINES]), "secret"), "locked.pdf")


def test_pdf_encrypted_with_an_empty_user_password_opens() -> None:
    # Owner-password-only PDFs (printing/copy restrictions) open in any viewer without a prompt.
    assert extract(encrypted_pdf(make_pdf([EN_LINES]), ""), "restricted.pdf").text.startswith("Jane Park")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_pdf_is_corrupt(keep: float) -> None:
    data = make_pdf([EN_LINES])
    with pytest.raises(UnreadableDocumentError, match="corrupt"):
        extract(data[: int(len(data) * keep)], "cut.pdf")


def test_garbage_after_pdf_header_is_corrupt() -> None:
    with pytest.raises(UnreadableDocumentError, match="corrupt"):
        extract(b"%PDF-1.7\n" + bytes(range(256)) * 20, "junk.pdf")


def test_pdf_without_text_layer_suggests_a_text_pdf() -> None:
    with pytest.raises(UnreadableDocumentError, match=r"no text.*text-based PDF"):
        extract(blank_pdf(), "scan.pdf")


# --- DOCX -------------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_document_order() -> None:
    def build(d: Any) -> None:
        d.add_paragraph("Jane Park")
        d.add_paragraph("Skills")
        table = d.add_table(rows=2, cols=2)
        table.cell(0, 0).text = "Languages"
        table.cell(0, 1).text = "Python, Go"
        merged = table.cell(1, 0).merge(table.cell(1, 1))
        merged.text = "Kubernetes"
        d.add_paragraph("Education")

    doc = extract(make_docx(build), "resume.docx")
    assert doc.kind == "docx"
    assert doc.content_type == DOCX_TYPE
    # A merged cell appears once, not once per grid column it spans.
    assert doc.text.splitlines() == [
        "Jane Park",
        "Skills",
        "Languages | Python, Go",
        "Kubernetes",
        "Education",
    ]


def test_docx_page_header_text_comes_first() -> None:
    def build(d: Any) -> None:
        header = d.sections[0].header
        header.is_linked_to_previous = False
        header.paragraphs[0].text = "Jane Park | jane.park@example.com"
        d.add_paragraph("Summary")

    assert extract(make_docx(build), "resume.docx").text.splitlines() == [
        "Jane Park | jane.park@example.com",
        "Summary",
    ]


def test_docx_with_only_empty_paragraphs_has_no_text() -> None:
    with pytest.raises(UnreadableDocumentError, match="no text"):
        extract(paragraphs_docx(["", "  "]), "blank.docx")


def test_zip_bomb_docx_is_rejected_before_parsing() -> None:
    bomb = docx_with_padding(paragraphs_docx(EN_LINES), 60 * 1024 * 1024)
    assert len(bomb) < LIMITS.max_bytes  # it passes the upload limit: only the archive check stops it
    with pytest.raises(UploadTooLargeError, match="expands"):
        extract(bomb, "bomb.docx")


def test_docx_entry_with_extreme_compression_ratio_is_rejected() -> None:
    with pytest.raises(UploadTooLargeError, match="expands"):
        extract(docx_with_padding(paragraphs_docx(EN_LINES), 4 * 1024 * 1024), "bomb.docx")


def test_docx_with_too_many_entries_is_rejected() -> None:
    with pytest.raises(UploadTooLargeError, match="expands"):
        extract(paragraphs_docx(EN_LINES), "resume.docx", ExtractLimits(max_docx_entries=3))


# --- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Backend engineer with Python", "en"),
        ("결제 시스템을 개발한 백엔드 개발자입니다", "ko"),
        ("Python, Kubernetes, PostgreSQL, Redis 기반 결제 시스템 개발", "ko"),
        ("Senior engineer at Kakao (카카오), Python Go Kubernetes PostgreSQL Kafka", "en"),
        ("", "en"),
        ("2021 - 2024 | 42", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


# --- real resumes -----------------------------------------------------------------------------

REAL = [
    ("en_resumematcher_barry_allen_fe.pdf", "pdf", 1, "en", "Barry Allen"),
    ("en_resumematcher_harvey_dent_mle.pdf", "pdf", 1, "en", "Harvey Dent"),
    ("en_hrhelper_sample_resume_data_scientist.docx", "docx", 1, "en", "JANE SMITH"),
    ("en_hrhelper_sample_resume_software_engineer.txt", "txt", 1, "en", "JOHN DOE"),
    ("ko_big20_security_engineer_choi.pdf", "pdf", 3, "ko", "최승우"),
]


@pytest.mark.parametrize(("name", "kind", "pages", "language", "first_line"), REAL)
def test_real_resumes_extract(name: str, kind: str, pages: int, language: str, first_line: str) -> None:
    data = shared_fixture(f"resumes/{name}").read_bytes()
    # Sniffed from the bytes: a misleading name and type change nothing.
    doc = extract_text(data, "upload.bin", "application/octet-stream", LIMITS)
    assert (doc.kind, doc.pages, detect_language(doc.text)) == (kind, pages, language)
    assert doc.text.splitlines()[0] == first_line
    assert doc.text == normalize_text(doc.text)  # already normal: idempotent
    assert not any(unicodedata.category(ch) == "Co" for ch in doc.text)


def test_barry_allen_icon_font_junk_is_cleaned() -> None:
    data = shared_fixture("resumes/en_resumematcher_barry_allen_fe.pdf").read_bytes()
    text = extract(data, "barry.pdf").text
    assert "obile-alt" not in text
    assert "/linkedin-in" not in text
    assert "Phone: (123) 456-7890" in text.splitlines()
    assert "LinkedIn: bwayne" in text.splitlines()
    # TeX's line-end hyphenation is undone.
    assert "Implemented user authentication" in text


def test_korean_fixture_keeps_all_three_pages() -> None:
    data = shared_fixture("resumes/ko_big20_security_engineer_choi.pdf").read_bytes()
    text = extract(data, "choi.pdf").text
    for phrase in ("지원 직무 : 보안엔지니어", "정보보안기사", "자기소개서", "Wireshark"):
        assert phrase in text
