"""How Korean reads digits, Latin letters and unit symbols: the table behind particle choice
(:mod:`agent.text.josa`) and behind the espeak-ng Korean voice (:func:`speakable`).

A Korean reader says "API" as 에이피아이, "30%" as 삼십 퍼센트, "2019년" as 이천십구년 and "Redis" as
레디스. Which particle follows a term depends on that reading, not on its spelling, and espeak-ng's
Korean voice switches to its English voice for every Latin word (and reads "%" in English), which
Whisper then hears as English. One table serves both.
"""

from __future__ import annotations

import re

# --- numbers -------------------------------------------------------------------------------------

_SINO_DIGITS = "영일이삼사오육칠팔구"
_SINO_SMALL_UNITS = ("", "십", "백", "천")
_SINO_BIG_UNITS = ("", "만", "억", "조", "경")
_NATIVE_ONES = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")


def sino_number(n: int) -> str:
    """Sino-Korean reading of a whole number: 30 -> 삼십, 2019 -> 이천십구, 15000 -> 만오천."""
    if n < 0:
        return "마이너스 " + sino_number(-n)
    if n == 0:
        return "영"
    if n >= 10**20:
        # Past 경 there is no unit in use: a long digit string (an ID, a misheard number) is read
        # digit by digit.
        return "".join(_SINO_DIGITS[int(d)] for d in str(n))
    groups: list[str] = []
    big = 0
    while n:
        n, group = divmod(n, 10000)
        if group:
            words = ""
            for place in range(3, -1, -1):
                digit = group // 10**place % 10
                if digit:
                    # "일" is dropped before 십, 백 and 천: 십오, not 일십오.
                    words += ("" if digit == 1 and place else _SINO_DIGITS[digit]) + _SINO_SMALL_UNITS[place]
            if big == 1 and words == "일":
                words = ""  # 만, not 일만
            groups.append(words + _SINO_BIG_UNITS[big])
        big += 1
    return "".join(reversed(groups))


def native_number(n: int) -> str | None:
    """Native Korean counting form before a counter (1-99): 3 -> 세, 20 -> 스무, 25 -> 스물다섯."""
    if not 1 <= n <= 99:
        return None
    tens, ones = divmod(n, 10)
    if tens == 2 and ones == 0:
        return "스무"
    return _NATIVE_TENS[tens] + _NATIVE_ONES[ones]


def decimal_reading(text: str) -> str:
    """ "1,500" -> 천오백, "3.5" -> 삼 점 오, "0.25" -> 영 점 이오."""
    whole, _, fraction = text.replace(",", "").partition(".")
    reading = sino_number(int(whole or "0"))
    if fraction:
        reading += " 점 " + "".join(_SINO_DIGITS[int(d)] for d in fraction)
    return reading


# Counters read with native numbers below 100 ("3명" is 세 명); the rest take Sino-Korean ones.
_NATIVE_COUNTERS = ("시간", "가지", "마리", "명", "개", "살", "번", "권", "대", "곳", "달", "시", "잔")
# 건 and 배 are native only for small counts: 세 건, 두 배, but 사십 배.
_SMALL_NATIVE_COUNTERS = ("건", "배")
_MONTHS = {6: "유월", 10: "시월"}

# --- Latin letters, units, words ------------------------------------------------------------------

LETTER_NAMES: dict[str, str] = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            "에이",
            "비",
            "씨",
            "디",
            "이",
            "에프",
            "지",
            "에이치",
            "아이",
            "제이",
            "케이",
            "엘",
            "엠",
            "엔",
            "오",
            "피",
            "큐",
            "알",
            "에스",
            "티",
            "유",
            "브이",
            "더블유",
            "엑스",
            "와이",
            "제트",
        ],
        strict=True,
    )
)

UNITS: dict[str, str] = {
    "%": "퍼센트",
    "ms": "밀리초",
    "sec": "초",
    "s": "초",
    "min": "분",
    "h": "시간",
    "hr": "시간",
    "hrs": "시간",
    "x": "배",
    "kb": "킬로바이트",
    "mb": "메가바이트",
    "gb": "기가바이트",
    "tb": "테라바이트",
    "km": "킬로미터",
    "kg": "킬로그램",
    "cm": "센티미터",
    "mm": "밀리미터",
    "px": "픽셀",
    "tps": "티피에스",
    "qps": "큐피에스",
    "rps": "알피에스",
    "fps": "에프피에스",
    "°c": "도",
    "℃": "도",
    "$": "달러",
    "₩": "원",
    "k": "천",
}
_MULTIPLIERS = {"k": 1000, "m": 1_000_000}

# Terms a Korean resume writes in Latin letters, with the reading Korean speakers use.
_WORDS_TEXT = """
python:파이썬 java:자바 javascript:자바스크립트 typescript:타입스크립트 kotlin:코틀린 go:고 golang:고랭
rust:러스트 ruby:루비 swift:스위프트 scala:스칼라 react:리액트 vue:뷰 angular:앵귤러 node:노드
express:익스프레스 django:장고 flask:플라스크 fastapi:패스트에이피아이 spring:스프링 boot:부트
redis:레디스 kafka:카프카 postgresql:포스트그레스큐엘 postgres:포스트그레스 mysql:마이에스큐엘
mongodb:몽고디비 mongo:몽고 oracle:오라클 docker:도커 kubernetes:쿠버네티스 terraform:테라폼
jenkins:젠킨스 github:깃허브 gitlab:깃랩 git:깃 linux:리눅스 ubuntu:우분투 azure:애저 google:구글
cloud:클라우드 snort:스노트 elasticsearch:일래스틱서치 elastic:일래스틱 spark:스파크 hadoop:하둡
airflow:에어플로 pandas:판다스 numpy:넘파이 pytorch:파이토치 tensorflow:텐서플로 keras:케라스
graphql:그래프큐엘 rest:레스트 restful:레스트풀 web:웹 server:서버 service:서비스 backend:백엔드
frontend:프론트엔드 nginx:엔진엑스 celery:셀러리 rabbitmq:래빗엠큐 figma:피그마 jira:지라 slack:슬랙
notion:노션 nosql:노에스큐엘 android:안드로이드 flutter:플러터 unity:유니티 excel:엑셀
tableau:태블로 power:파워 sagemaker:세이지메이커 firebase:파이어베이스 mern:먼 stack:스택
machine:머신 learning:러닝 deep:딥 data:데이터 security:시큐리티 network:네트워크 engineer:엔지니어
developer:디벨로퍼 devops:데브옵스 mlops:엠엘옵스 ddos:디도스 toeic:토익 transformer:트랜스포머
windows:윈도우 mac:맥 pipeline:파이프라인 cache:캐시 queue:큐 batch:배치 test:테스트 tests:테스트
grpc:지알피씨 oauth:오어스 json:제이슨 yaml:야믈 webrtc:웹알티씨 whisper:위스퍼 llama:라마
openai:오픈에이아이 chatgpt:챗지피티 langchain:랭체인 selenium:셀레늄 playwright:플레이라이트
pytest:파이테스트 junit:제이유닛 gradle:그레이들 maven:메이븐 vite:비트 webpack:웹팩 tailwind:테일윈드
bootstrap:부트스트랩 redux:리덕스 next:넥스트 nest:네스트 nestjs:네스트제이에스 prometheus:프로메테우스
grafana:그라파나 kibana:키바나 logstash:로그스태시 splunk:스플렁크 wireshark:와이어샤크 burp:버프
suite:스위트 metasploit:메타스플로잇 nmap:엔맵 kali:칼리 zabbix:자빅스 ansible:앤서블 helm:헬름
argo:아르고 istio:이스티오 lambda:람다 dynamodb:다이나모디비 bigquery:빅쿼리 snowflake:스노우플레이크
dbt:디비티 looker:루커 hive:하이브 flink:플링크 storm:스톰 scikit:사이킷 xgboost:엑스지부스트
opencv:오픈씨브이 yolo:욜로 bert:버트 kubeflow:쿠브플로 mlflow:엠엘플로 streamlit:스트림릿
swiftui:스위프트유아이 xcode:엑스코드 unreal:언리얼 photoshop:포토샵 illustrator:일러스트레이터
sketch:스케치 notion:노션 confluence:컨플루언스 agile:애자일 scrum:스크럼 kanban:칸반 ledger:레저
payment:페이먼트 payments:페이먼츠 search:서치 billing:빌링 migration:마이그레이션 admin:어드민
dashboard:대시보드 app:앱 apps:앱 mobile:모바일 platform:플랫폼 project:프로젝트 team:팀
lead:리드 manager:매니저 senior:시니어 junior:주니어 intern:인턴 full:풀 front:프론트 end:엔드
full-stack:풀스택 fullstack:풀스택 micro:마이크로 microservice:마이크로서비스 microservices:마이크로서비스
"""
WORDS: dict[str, str] = dict(pair.split(":", 1) for pair in _WORDS_TEXT.split())
_SPECIAL = {
    "c++": "씨플플",
    "c#": "씨샵",
    ".net": "닷넷",
    "node.js": "노드제이에스",
    "next.js": "넥스트제이에스",
}

_HANGUL_BASE = 0xAC00
_RIEUL = 8  # ㄹ as a final consonant, in Unicode's order of finals


def final_of_syllable(ch: str) -> int | None:
    """Index of the final consonant of a Hangul syllable (0: none, 8: ㄹ), None for other chars."""
    code = ord(ch) - _HANGUL_BASE
    if not 0 <= code < 11172:
        return None
    return code % 28


def _latin_guess_final(word: str) -> int:
    """Final sound of an English word as a Korean loanword, from its spelling: 0 (a vowel), 8 (ㄹ),
    or 1 (another consonant). Loanwords end in a consonant only for m, n, ng, l, a short -ck or -ic,
    -pp; most other consonants take an added 으 (Boot 부트, Spark 스파크, Cloud 클라우드)."""
    w = word.casefold()
    if w.endswith(("l", "ll", "le")):
        return _RIEUL
    if w.endswith(("m", "n", "ng", "ck", "ic", "pp", "gm")):
        return 1
    return 0


def spell_letters(word: str) -> str:
    return "".join(LETTER_NAMES.get(ch.upper(), ch) for ch in word)


def read_latin(word: str) -> str | None:
    """A Korean reading of one Latin-letter token, or None when only its final sound can be guessed.

    Known terms from the table, acronyms (all capitals, or two or three letters) letter by letter,
    letters followed by digits ("S3", "p99") as letters and a number.
    """
    key = word.casefold()
    if key in _SPECIAL:
        return _SPECIAL[key]
    if key in WORDS:
        return WORDS[key]
    parts = re.fullmatch(r"([A-Za-z]+)(\d+)", word)
    if parts:
        head = read_latin(parts.group(1)) or spell_letters(parts.group(1))
        return head + sino_number(int(parts.group(2)))
    if re.fullmatch(r"[A-Za-z]{1,3}|[A-Z]{2,6}s?", word):
        # "APIs" reads as 에이피아이 plus the plural: the letters are what is heard.
        return spell_letters(word[:-1] if word.endswith("s") and word[:-1].isupper() else word)
    return None


# --- final sound of a term ---------------------------------------------------------------------------

_TRAILING = re.compile(r"[\s\"'“”‘’「」『』()\[\]<>.,;:!?…·\-–—]+$")
_PAREN_TAIL = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_NUMBER_UNIT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*([%$₩℃]|°C|[A-Za-z]{1,3})?$")
_LAST_LATIN = re.compile(r"([A-Za-z][A-Za-z+#.]*[A-Za-z+#]|[A-Za-z])$")


def last_reading(term: str) -> str | None:
    """How the end of ``term`` is read aloud, as far as the particle after it needs: Hangul as
    written, a number with its unit, a Latin word. None when the term has nothing readable."""
    text = term
    # "지속적 통합(CI)": a particle follows the word before the parenthesis.
    while True:
        stripped = _TRAILING.sub("", _PAREN_TAIL.sub("", text))
        if stripped == text:
            break
        text = stripped
    if not text:
        return None
    last = text[-1]
    if final_of_syllable(last) is not None:
        return last
    number = _NUMBER_UNIT.search(text)
    if number and (number.group(2) or last.isdigit()):
        unit = (number.group(2) or "").casefold()
        if unit and unit not in UNITS and unit not in _MULTIPLIERS:
            return read_latin(number.group(2)) or None
        value = number.group(1).replace(",", "")
        if unit in _MULTIPLIERS and unit != "k":
            return sino_number(round(float(value) * _MULTIPLIERS[unit]))
        if unit == "k":
            return sino_number(round(float(value) * 1000))
        return UNITS[unit] if unit else decimal_reading(value)
    word = _LAST_LATIN.search(text)
    if word:
        reading = read_latin(word.group(1))
        if reading is None:
            # Unknown words: a stand-in syllable with the guessed final sound.
            return {0: "아", _RIEUL: "알"}.get(_latin_guess_final(word.group(1)), "안")
        return reading
    return None


def final_consonant(term: str) -> int | None:
    """Final consonant index (0 none, 8 ㄹ, else another) of how ``term`` ends when read aloud."""
    reading = last_reading(term)
    if not reading:
        return None
    return final_of_syllable(reading[-1])


# --- speakable Korean ------------------------------------------------------------------------------

_COUNTER_AFTER = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(" + "|".join((*_NATIVE_COUNTERS, *_SMALL_NATIVE_COUNTERS, "월")) + ")"
)
_NUMBER_WITH_UNIT = re.compile(
    r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(%|°C|℃|\$|(?:ms|sec|min|hrs?|kb|mb|gb|tb|km|kg|cm|mm|px|tps|qps|rps|fps"
    r"|[xskKmMh])(?![A-Za-z]))",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_LATIN_TOKEN = re.compile(
    r"(?<![A-Za-z])(?:[Cc]\+\+|[Cc]#|\.NET|[A-Za-z]+\.js|[A-Za-z][A-Za-z0-9]*)(?![A-Za-z])"
)


def _counter(match: re.Match[str]) -> str:
    digits, counter = match.group(1), match.group(2)
    if "." in digits:
        return decimal_reading(digits) + " " + counter
    n = int(digits.replace(",", ""))
    if counter == "월":
        return _MONTHS.get(n, sino_number(n) + "월")
    native = native_number(n)
    if native and (counter in _NATIVE_COUNTERS or (counter in _SMALL_NATIVE_COUNTERS and n < 10)):
        return native + " " + counter
    return sino_number(n) + " " + counter


def _number_with_unit(match: re.Match[str]) -> str:
    digits, unit = match.group(1), match.group(2).casefold()
    if unit in ("k", "m") and match.group(2) in ("k", "K", "M"):
        value = round(float(digits.replace(",", "")) * _MULTIPLIERS[unit])
        return sino_number(value)
    if unit == "m":  # a lower-case m after a number is minutes or metres: leave the digits to espeak
        return decimal_reading(digits) + " 미터"
    if unit == "$":
        return decimal_reading(digits) + " 달러"
    return decimal_reading(digits) + " " + UNITS.get(unit, unit)


def _latin(match: re.Match[str]) -> str:
    word = match.group(0)
    reading = read_latin(word)
    if reading is None and "." in word:
        reading = " ".join(read_latin(part) or part for part in word.split(".") if part)
    return reading if reading is not None else word


def speakable(text: str) -> str:
    """Korean text with numbers, unit symbols and known Latin terms written as Korean reads them.

    "Spring Boot로 응답 속도 30% 개선, 2019년 6월" -> "스프링 부트로 응답 속도 삼십 퍼센트 개선,
    이천십구년 유월". Latin words not in the table are left for the synthesizer.
    """
    # "$30" is said "삼십 달러": move the sign behind the number first.
    text = re.sub(r"\$\s*(\d[\d,]*(?:\.\d+)?)", r"\1$", text)
    # "2023.07" on a resume is a month: 이천이십삼년 칠월, not 이천이십삼 점 영칠.
    text = re.sub(r"\b((?:19|20)\d\d)\s*[./]\s*(0?[1-9]|1[0-2])\b(?![.\d])", r"\1년 \2월", text)
    text = _COUNTER_AFTER.sub(_counter, text)
    text = _NUMBER_WITH_UNIT.sub(_number_with_unit, text)
    # "2023.07 - 2023.08", "3~5": a range is read with 에서.
    text = re.sub(r"(?<=\d)\s*[~–-]\s*(?=\d)", " 에서 ", text)
    text = _NUMBER.sub(lambda m: decimal_reading(m.group(0)), text)
    text = _LATIN_TOKEN.sub(_latin, text)
    text = text.replace("/", " ").replace("&", " 앤 ")
    return re.sub(r"[ \t]+", " ", text).strip()
