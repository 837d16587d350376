"""More generated resumes for plan quality: the shapes the first plans got wrong (labelled Korean
forms, "성과:" lines, labelled skill lists, wrapped lines), beside tests/resume_factory.py."""

from __future__ import annotations

KO_RESUME_FORM = """이력서

이름: 홍길동 | 연락처: 010-9876-5432 | 이메일: gildong.hong@example.com
지원 직무: 백엔드 개발자

경력
주식회사 한빛소프트 서버 개발팀 (2019.03 - 현재)
- Spring Boot를 활용한 REST API 개발
- 성과: 응답 속도 30% 개선
- Redis 캐시 도입으로 주문 조회 API의 평균 응답 시간을 120ms에서 45ms로 단축했습니다.
- 결제 모듈을 마이크로서비스로 분리하고 Kafka 기반 이벤트 처리를 구축했습니다.
- 신입 개발자 두 명의 온보딩과 코드 리뷰를 담당했습니다.

프로젝트
사내 배포 자동화: Jenkins와 Docker로 배포 시간을 하루에서 20분으로 줄였습니다.

기술
Languages: Java, Python, JavaScript
Frameworks: Spring Boot, Django
Databases: MySQL, Redis

학력
한국대학교 컴퓨터공학과 졸업 (2019)
"""

EN_RESUME_FULLSTACK = """Alex Morgan
Full Stack Developer
alex.morgan@example.com | +1 206 555 0199

Summary
MERN Stack developer with 4 years of experience and a growing interest in AI.
Proficient in MongoDB, Express.js, React, and
Node.js, with a focus on clean, tested code.

Experience
Full Stack Developer, Brightline Labs (2021 - Present)
- Managed a team of 5 to build a full-featured web application for clinic scheduling.
- Cut page load time by 45% by moving rendering to the server with Next.js.
- Built a REST API in Express.js serving 3 million requests a day.

Junior Developer, Pixelworks (2019 - 2021)
- Implemented a design system in React used by four product teams.
- Wrote end-to-end tests with Playwright, reducing release regressions by 60%.

Skills
Languages: JavaScript, TypeScript, Python
Tools: Docker, GitHub Actions, AWS
"""
