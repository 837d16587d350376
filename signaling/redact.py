"""Connection URLs as they may appear in logs: the password (and a token-like user) replaced."""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "token", "secret", "auth"})


def redact_url(url: str) -> str:
    """``redis://:pw@host:6379/0`` -> ``redis://:***@host:6379/0``; a URL without credentials comes
    back unchanged. Password-like query parameters (``?password=``) are masked too. Never raises:
    a string that does not parse as a URL is masked whole rather than risk printing a secret."""
    try:
        parts = urlsplit(url)
        netloc = _redact_netloc(parts)
        query = _redact_query(parts.query)
    except ValueError:
        return MASK
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: as given (urlunsplit would rewrite "unix:///x" as "unix:/x")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_netloc(parts: SplitResult) -> str:
    if "@" not in parts.netloc:
        return parts.netloc
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    if has_password:
        return f"{user}:{MASK}@{hostport}"
    # ``redis://TOKEN@host`` is how some services take a bare password: never print it either.
    return f"{MASK}@{hostport}" if user else f"@{hostport}"


def _redact_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
        return query
    return urlencode([(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
