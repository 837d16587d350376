"""Resumes the tests make themselves (PDF, DOCX, TXT; English and Korean), so no case depends on
files a user's clone lacks."""

from __future__ import annotations

import io
import zipfile

EN_RESUME = """Jane Park
Backend Engineer
jane.park@example.com | +1 415 555 0100 | github.com/janepark

Summary
Backend engineer with 6 years of experience building payment and search systems in Python and Go.

Experience
Senior Backend Engineer, Northwind Payments (2021 - Present)
- Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%.
- Designed an idempotent payment ledger in PostgreSQL handling 2,000 transactions per second.
- Mentored four junior engineers and ran the weekly architecture review.

Software Engineer, Contoso Search (2018 - 2021)
- Built a query autocomplete service in Go with p99 latency under 20 ms.
- Introduced contract tests between five teams, reducing integration incidents by half.

Skills
Python, Go, PostgreSQL, Redis, Kubernetes, Kafka, gRPC, Terraform

Education
B.S. Computer Science, University of Washington, 2018
"""

EN_RESUME_NO_ROLE = """Sam Rivera
sam.rivera@example.com

Experience
Acme Robotics (2019 - 2024)
- Wrote firmware for warehouse robots in C and Rust.
- Cut battery usage 18% by rescheduling motor control loops.

Skills
C, Rust, embedded Linux, CAN bus
"""

KO_RESUME = """김지은
백엔드 개발자
jieun.kim@example.com | 010-1234-5678

요약
결제 시스템과 검색 서비스를 5년간 개발한 백엔드 개발자입니다.

경력
네이버페이 백엔드 개발자 (2020 - 현재)
- 정산 배치 시스템을 쿠버네티스로 이전하여 처리 시간을 40% 단축했습니다.
- PostgreSQL 기반 원장 시스템을 설계하여 초당 1,500건의 거래를 처리했습니다.
- 주니어 개발자 세 명의 코드 리뷰와 멘토링을 맡았습니다.

프로젝트
검색 자동완성 서비스 개발: Go와 Redis로 응답 시간 20ms 이하를 달성했습니다.

기술
Java, Kotlin, Spring, PostgreSQL, Redis, Kafka, Kubernetes

학력
서울대학교 컴퓨터공학과 졸업 (2020)
"""


def pdf_bytes(text: str) -> bytes:
    """A text-layer PDF; Hangul needs reportlab's CID font."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    korean = any("가" <= ch <= "힣" for ch in text)
    font = "Helvetica"
    if korean:
        pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
        font = "HYSMyeongJo-Medium"
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    y = 800
    for line in text.splitlines():
        if y < 60:
            pdf.showPage()
            y = 800
        pdf.setFont(font, 10)
        pdf.drawString(50, y, line)
        y -= 14
    pdf.save()
    return buf.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def encrypted_pdf(pdf: bytes, user_password: str) -> bytes:
    """``pdf`` locked with ``user_password``; an empty one only restricts printing and copying."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def blank_pdf() -> bytes:
    """One empty A4 page: a PDF without a text layer, as a scan is."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def docx_with_padding(docx: bytes, size: int, name: str = "word/media/pad.bin") -> bytes:
    """``docx`` plus one entry of ``size`` zero bytes, streamed so memory stays small."""
    buf = io.BytesIO(docx)
    with (
        zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w") as entry,
    ):
        block = b"\0" * (1 << 20)
        for _ in range(size // len(block)):
            entry.write(block)
    return buf.getvalue()
