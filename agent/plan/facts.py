"""Concrete facts a template question can be built around, taken apart from a resume line.

A person reading "Led the migration of the billing service to Kubernetes, cutting infrastructure costs
by 30%." asks about "leading the migration of the billing service to Kubernetes" and about "cutting
infrastructure costs by 30%", and names Kubernetes; they do not read the line back in quotes. So a
line becomes a :class:`Fact`: a subject phrase to ask about, a measured result, and the technologies
it names, each usable inside a sentence. A line that cannot be taken apart cleanly (a list of skills,
a heading, a sentence cut by the PDF, a plan for the future) gives technologies at most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.text.josa import attach
from agent.text.korean import WORDS

# --- technologies --------------------------------------------------------------------------------

_GENERIC = frozenset(
    [
        "google",
        "agile",
        "scrum",
        "kanban",
        "rest",
        "restful",
        "server",
        "service",
        "backend",
        "frontend",
        "power",
        "machine",
        "learning",
        "deep",
        "data",
        "security",
        "network",
        "engineer",
        "developer",
        "test",
        "tests",
        "cache",
        "queue",
        "batch",
        "pipeline",
        "ledger",
        "payment",
        "payments",
        "search",
        "billing",
        "migration",
        "admin",
        "dashboard",
        "app",
        "apps",
        "mobile",
        "platform",
        "project",
        "team",
        "lead",
        "manager",
        "senior",
        "junior",
        "intern",
        "full",
        "front",
        "end",
        "micro",
        "web",
        "cloud",
        "stack",
        "next",
        "nest",
        "suite",
        "boot",
        "power",
    ]
)
_TECH_ACRONYMS = frozenset(
    [
        "SQL",
        "NoSQL",
        "AWS",
        "GCP",
        "IDS",
        "IPS",
        "REST",
        "HTML",
        "CSS",
        "JWT",
        "NLP",
        "ML",
        "LLM",
        "RAG",
        "CI/CD",
        "ETL",
        "SIEM",
        "VPN",
        "TCP",
        "UDP",
        "HTTP",
        "gRPC",
        "GraphQL",
        "CUDA",
        "GPU",
        "IoT",
        "SDK",
        "RDBMS",
    ]
)
TECH_WORDS = frozenset(w for w in WORDS if w not in _GENERIC) | {"c++", "c#", ".net", "node.js", "next.js"}
# Named on resumes but not something one "uses" or "builds a system with".
_NOT_TOOLS = frozenset({"ddos", "ui/ux", "a/b", "ai", "api", "apis", "agile", "openai", "ux", "ui"})
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+#.\-/]*[A-Za-z0-9+#]|[A-Za-z]")


def technologies(line: str, known: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Technology names in ``line``: the tech vocabulary, tech acronyms, the resume's own skills
    (``known``, case-folded), and CamelCase or dotted names (PostgreSQL, Node.js)."""
    found: dict[str, str] = {}
    for token in _TOKEN.findall(line):
        token = token.rstrip(".-/")
        key = token.casefold()
        camel = re.search(r"[a-z][A-Z]|\.[a-z]{2}$", token) is not None
        if key in _NOT_TOOLS:
            continue
        if key in TECH_WORDS or token in _TECH_ACRONYMS or key in known or (camel and len(token) >= 4):
            found.setdefault(key, token)
    return tuple(found.values())


# --- English -------------------------------------------------------------------------------------

_GERUNDS = {
    "led": "leading",
    "built": "building",
    "wrote": "writing",
    "ran": "running",
    "cut": "cutting",
    "drove": "driving",
    "made": "making",
    "won": "winning",
    "set": "setting",
    "grew": "growing",
    "taught": "teaching",
    "brought": "bringing",
    "architected": "architecting",
    "conducted": "conducting",
    "published": "publishing",
    "owned": "owning",
    "designed": "designing",
    "developed": "developing",
    "implemented": "implementing",
    "launched": "launching",
    "deployed": "deploying",
    "maintained": "maintaining",
    "researched": "researching",
    "refactored": "refactoring",
    "delivered": "delivering",
    "established": "establishing",
    "mentored": "mentoring",
    "trained": "training",
    "increased": "increasing",
    "reduced": "reducing",
    "improved": "improving",
    "created": "creating",
    "managed": "managing",
    "migrated": "migrating",
    "automated": "automating",
    "introduced": "introducing",
    "integrated": "integrating",
    "analyzed": "analyzing",
    "analysed": "analysing",
    "optimized": "optimizing",
    "optimised": "optimising",
    "utilized": "using",
    "used": "using",
    "scaled": "scaling",
    "raised": "raising",
    "coordinated": "coordinating",
    "shipped": "shipping",
    "planned": "planning",
    "achieved": "achieving",
    "assisted": "assisting",
    "supported": "supporting",
    "collaborated": "collaborating",
    "organized": "organizing",
    "contributed": "contributing",
}
_RESULT_VERB = (
    r"(?:cutting|reducing|increasing|improving|boosting|saving|raising|lowering|doubling|achieving)"
)
_CONTINUES = re.compile(r"\b(?:and|or|with|of|the|a|an|to|in|for|by|on|at|from|including|using)$", re.I)
_EN_MAX_WORDS = 12


@dataclass(frozen=True, slots=True)
class Fact:
    line: str
    """The resume line the fact comes from (never shown; used to cite and not to repeat)."""
    subject_en: str | None = None
    """A gerund phrase: "leading the migration of the billing service to Kubernetes"."""
    result_en: str | None = None
    """A gerund phrase with a measure: "cutting infrastructure costs by 30%"."""
    subject_ko: str | None = None
    """A Korean phrase that ends where 경험/과정 can follow: "…쿠버네티스로 이전하신", "REST API 개발"."""
    result_ko: str | None = None
    terms: tuple[str, ...] = field(default_factory=tuple)

    def phrase(self, language: str) -> str | None:
        """What a question in ``language`` would be about (None: only technologies)."""
        if language == "ko":
            return self.subject_ko or self.result_ko
        return self.subject_en or self.result_en

    @property
    def has_phrase(self) -> bool:
        return bool(self.subject_en or self.result_en or self.subject_ko or self.result_ko)


def _clean_en(phrase: str) -> str | None:
    phrase = re.sub(r"\s+", " ", phrase).strip(" ,;:.")
    words = phrase.split()
    if not 3 <= len(words) <= _EN_MAX_WORDS or _CONTINUES.search(phrase) or "…" in phrase:
        return None
    if phrase.count("(") != phrase.count(")"):
        return None
    return phrase


def _gerund(word: str) -> str | None:
    key = word.casefold()
    if key in _GERUNDS:
        return _GERUNDS[key]
    if not key.endswith("ed") or len(key) < 5 or not key.isalpha():
        return None
    if key.endswith("ied"):
        return key[:-3] + "ying"  # applied -> applying
    if re.search(
        r"(?:at|iz|is|ur|ov|ag|uc|ut|id|ok|ar|yz|in|ct|as|ar|iv|ens|ers)ed$", key
    ) and not key.endswith(("cted", "ined", "ered")):
        return key[:-2] + "ing" if key.endswith(("ssed",)) else key[:-1][:-1] + "ing"
    return key[:-2] + "ing"  # tested -> testing, planned -> planning


def _gerund_phrase(clause: str) -> str | None:
    clause = re.sub(r"^(?:currently|also|successfully)\s+", "", clause.strip(), flags=re.I)
    first, _, rest = clause.partition(" ")
    key = first.casefold()
    head = _gerund(first) if first[:1].isupper() else None
    if head is None and key.endswith("ing") and len(key) > 5:
        head = key
    if head is None:
        return None
    # "Analyzed and visualized large data sets", "Mentored four engineers and ran the review".
    rest = re.sub(
        r"\b(and|or)\s+([A-Za-z]+ed|ran|led|built|wrote|drove|made|cut|grew|taught)\b",
        lambda m: f"{m.group(1)} {_gerund(m.group(2)) or m.group(2)}",
        rest,
    )
    phrase = f"{head} {rest}".strip()
    if len(phrase.split()) > _EN_MAX_WORDS:
        # Drop a trailing "using X, Y and Z" or "with ..." (the technologies are kept apart).
        phrase = re.split(r"\s+(?:using|with|through|via|for|in order to)\s+", phrase)[0]
    return _clean_en(phrase)


def english_fact(line: str, known: frozenset[str] = frozenset()) -> Fact:
    terms = technologies(line, known)
    if _is_list(line) or re.search(r"[가-힣]", line):
        return Fact(line, terms=terms)
    body = line.rstrip(". ")
    # "..., cutting costs by 30%" / "... increasing engagement by 25%": the result clause.
    result_en = None
    split = re.search(rf"(?:,\s*|\s+)(?={_RESULT_VERB}\b)", body, flags=re.I)
    main = body
    if split:
        main, tail = body[: split.start()], body[split.end() :]
        if re.search(r"\d", tail) or re.search(r"\bby half\b", tail):
            result_en = _clean_en(tail.split(",")[0].split(" and ")[0] if len(tail.split()) > 10 else tail)
    else:
        main = re.split(r",\s+(?=\w+ing\b)|;\s*", body)[0]
    subject_en = _gerund_phrase(main)
    if (
        result_en is None
        and subject_en
        and re.match(rf"{_RESULT_VERB}\b", subject_en)
        and re.search(r"\d", subject_en)
    ):
        # "Reduced API response times by 40% through ...": the whole line is the result.
        result_en, subject_en = subject_en, None
    return Fact(line, subject_en=subject_en, result_en=result_en, terms=terms)


# --- Korean --------------------------------------------------------------------------------------

_KO_LEAD = re.compile(
    r"^(?:(?:저는|제가|본 프로젝트는|특히|이를 통해|당시|그 결과|또한|이후|최근에는|이 과정에서)[,\s]+)+"
)
# Honorific past adnominal ("…하신") of the clause-final verb, by the verb's stem.
_KO_HONORIFIC = {
    "맡": "맡으신",
    "거두": "거두신",
    "다지": "다지신",
    "내리": "내리신",
    "높이": "높이신",
    "줄이": "줄이신",
    "만들": "만드신",
    "이끌": "이끄신",
    "쌓": "쌓으신",
    "얻": "얻으신",
    "받": "받으신",
    "갖추": "갖추신",
    "늘리": "늘리신",
    "도우": "도우신",
}
_KO_PAST = {
    "맡았": "맡",
    "거두었": "거두",
    "거뒀": "거두",
    "다졌": "다지",
    "내렸": "내리",
    "높였": "높이",
    "줄였": "줄이",
    "만들었": "만들",
    "이끌었": "이끌",
    "쌓았": "쌓",
    "얻었": "얻",
    "받았": "받",
    "갖췄": "갖추",
    "늘렸": "늘리",
}
_KO_HADA_END = re.compile(
    r"(?:했습니다|하였습니다|했으며|하였으며|했고|하였고|했음|함|했다|하였다|하고|하며|하여|해)$"
)
_KO_OTHER_END = re.compile(r"(" + "|".join(_KO_PAST) + r")(?:습니다|으며|고|음|다)$")
_KO_FUTURE = re.compile(r"겠습니다|겠다|할 것입니다|하고자 합니다|예정|계획입니다|주십시오|주세요|바랍니다")
_KO_CLAUSE_SPLIT = re.compile(
    r"(?:(?<=하고)|(?<=하며)|(?<=하여)|(?<=했고)|(?<=했으며)|(?<=하였으며)|(?<=하였고)),?\s+|,\s+"
)
_KO_INSTRUMENT = re.compile(r"(?:활용|이용|사용|통|바탕으로|기반으로)$")
_KO_MAX_CHARS = 34
_KO_PARTICLE_GAP = re.compile(r"(?<=[A-Za-z0-9)%])\s+(을|를|이|가|은|는|와|과|으로|로|의|에서|에)(?=\s|$)")


def fix_particles(text: str) -> str:
    """Join a particle a PDF split off its term ("Snort 를") and choose it by the term's reading."""
    text = _KO_PARTICLE_GAP.sub(r"\1", text)

    def choose(match: re.Match[str]) -> str:
        term, particle = match.group(1), match.group(2)
        pair = {
            "을": "을/를",
            "를": "을/를",
            "이": "이/가",
            "가": "이/가",
            "은": "은/는",
            "는": "은/는",
            "과": "과/와",
            "와": "과/와",
            "으로": "으로/로",
            "로": "으로/로",
        }[particle]
        return attach(term, pair)

    return re.sub(
        r"([A-Za-z0-9+#%)][A-Za-z0-9+#.%)]*)(으로|을|를|이|가|은|는|과|와|로)(?=\s|$|[,.?])", choose, text
    )


# Words a Korean phrase about work can end on: verbal nouns (개발, 구축, 이전) and the things built.
_KO_NOUN_END = re.compile(
    r"(?:개발|구축|설계|구현|개선|운영|분석|도입|이전|최적화|자동화|고도화|프로젝트|시스템|서비스|플랫폼|연구|관리"
    r"|단축|절감|향상|증가|감소|달성|수행|담당|적용|연동|제작|기획|리팩토링|마이그레이션|모니터링|테스트|배포|처리"
    r"|조성|주도|제안|작성|지원|점검|통합|전환|확보|검증|증명|학습|멘토링|리뷰|교육|발표|수상|출시|런칭|해결|설정"
    r"|파악|식별|탐지|대응|수집|정의|진행|참여|협업|조율|리드|총괄|기여|확장|분리|정비|구성|측정)$"
)
_KO_CUT_LINE = re.compile(r"(?:의|및|을|를|에|와|과|로|는|은|등|,)$")


def _ko_clean(phrase: str) -> str | None:
    phrase = re.sub(r"\s+", " ", phrase).strip(" ,;:.")
    if not 4 <= len(phrase) <= _KO_MAX_CHARS or phrase.endswith(("및", "등", "또는", "와", "과")):
        return None
    if phrase.count("(") != phrase.count(")") or "…" in phrase or not re.search(r"[가-힣]{2}", phrase):
        return None
    return phrase


def _ko_clause(clause: str) -> str | None:
    """A Korean clause as a phrase that 경험/과정 can follow, in the honorific: "…이전하신"."""
    clause = _KO_LEAD.sub("", clause.strip().rstrip("."))
    hada = _KO_HADA_END.search(clause)
    if hada:
        stem = clause[: hada.start()].rstrip()
        if not stem or _KO_INSTRUMENT.search(stem):
            return None
        # "수집 환경을 조성" is a phrase with a verbal noun at its end: 조성하신.
        cleaned = _ko_clean(stem)
        if cleaned is None or not _KO_NOUN_END.search(cleaned) or " " not in cleaned:
            return None
        if cleaned.endswith("절감") and not re.search(r"\d", cleaned):
            return None  # 필요성을 절감 (felt keenly), not a saving
        return f"{cleaned}하신"
    other = _KO_OTHER_END.search(clause)
    if other:
        stem = clause[: other.start()]
        cleaned = _ko_clean(stem + "X")  # measure the whole phrase, verb included
        if cleaned:
            return stem + _KO_HONORIFIC[_KO_PAST[other.group(1)]]
        return None
    # A noun phrase line ("Spring Boot를 활용한 REST API 개발", "오픈소스 기반 침입 탐지 시스템 구축
    # 프로젝트"): usable as it is when it ends in a noun.
    if _KO_NOUN_END.search(clause) and " " in clause.strip():
        return _ko_clean(clause)
    return None


def _is_list(line: str) -> bool:
    """A list of skills or a labelled list ("Languages: Java, Python"): nothing to ask about as a
    phrase, only its technologies."""
    body = re.sub(r"^[^:：]{1,30}[:：]\s*", "", line)
    items = [item.strip() for item in re.split(r"[,，、|/]", body) if item.strip()]
    return len(items) >= 3 and sum(len(item.split()) <= 3 for item in items) >= len(items) - 1


def korean_fact(line: str, known: frozenset[str] = frozenset()) -> Fact:
    line = fix_particles(line)
    terms = technologies(line, known)
    if (
        _is_list(line)
        or _KO_FUTURE.search(line)
        or _KO_CUT_LINE.search(line)
        or not re.search(r"[가-힣]", line)
    ):
        return Fact(line, terms=terms)
    label = re.match(r"^([^:：]{2,20})[:：]\s*(.+)$", line)
    subject = result = None
    body = line
    if label:
        name, body = label.group(1).strip(), label.group(2).strip()
        if name in ("성과", "결과", "주요 성과", "업적"):
            result = _ko_clause(body)
            return Fact(line, result_ko=result, terms=terms)
        if name not in ("역할", "담당", "담당 업무", "기간", "기술", "사용 기술", "기술 스택"):
            # "검색 자동완성 서비스 개발: Go와 Redis로 …": the label is the project.
            subject = _ko_clean(name) if re.search(r"[가-힣]{2}", name) else None
    clauses: list[str] = []
    for clause in (c for c in _KO_CLAUSE_SPLIT.split(body) if c.strip()):
        # "Snort를 활용하여 … 환경을 조성하고": the tool belongs to the clause it serves.
        if clauses and _KO_INSTRUMENT.search(_KO_HADA_END.sub("", clauses[-1]).rstrip()):
            clauses[-1] = f"{clauses[-1]} {clause}"
        else:
            clauses.append(clause)
    phrases = [p for p in (_ko_clause(c) for c in clauses) if p]
    with_number = [p for p in phrases if re.search(r"\d", p)]
    if with_number:
        result = with_number[-1]
    rest = [p for p in phrases if p != result]
    if subject is None and rest:
        subject = rest[0]
    if subject is None and result is None and len(clauses) == 1:
        subject = _ko_clause(body)
    return Fact(line, subject_ko=subject, result_ko=result, terms=terms)
