"""Credentials out of a text before it is stored: each one replaced by `[redacted: KIND]`.

Transcripts carry whatever passed through a terminal: keys pasted into a prompt, a `.env` file a
tool read, a connection string in a log. A memory store keeps text for months and hands it to any
agent that recalls it, so what looks like a credential never reaches it. The rules favour catching
a secret over keeping a harmless string: a false positive costs a word of context, a miss leaks a key.

What is caught, and what is not, is listed in docs/capture.md.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

MARK = "[redacted: {}]"


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: "re.Pattern[str]"
    group: int = 0                                          # the part of a match that is the secret
    keep: Optional[Callable[["re.Match[str]"], bool]] = None  # True: this match is not a secret after all


# A value after `password=` that is a placeholder, a type or a reference, not a secret.
_NOT_A_VALUE = {"none", "null", "nil", "true", "false", "undefined", "required", "optional", "string", "bytes",
                "secret", "password", "token", "redacted", "changeme", "example", "xxxx", "xxxxxxxx", "****",
                "********", "your_password", "your_token", "your_api_key", "str", "int", "bool", "any"}
_ASSIGNED_KEY = (r"[\w.-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
                 r"secret[_-]?key|private[_-]?key|client[_-]?secret|auth)s?")


def _placeholder(match: "re.Match[str]") -> bool:
    """`token: Optional[str]`, `password=$PASS`, `max_tokens: 4096`: no secret here."""
    key, value, after = match.group(1).lower(), match.group(2), match.string[match.end(2):match.end(2) + 1]
    if value.lower() in _NOT_A_VALUE or value[0] in "$<{%*" or value.startswith("..."):
        return True
    if value.isdigit() and not re.search(r"pass|pwd|pin", key):
        return True                                         # a count (max_tokens: 4096), not a secret
    return value.isalpha() and after in "[(|"              # a type annotation: Optional[str], List(...)


RULES: Tuple[Rule, ...] = (
    # A key block first: its base64 body must not be cut up by the rules below. An unterminated
    # block (a truncated paste) is redacted to the end of the text.
    Rule("private-key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S)),
    Rule("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    Rule("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    Rule("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    Rule("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    Rule("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    Rule("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    Rule("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    Rule("connection-password", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,30}://[^\s:/@'\"]+:([^\s@/'\"]+)@"), 1),
    Rule("bearer-token", re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{20,}=*)"), 1),
    # `password=...`, `"api_key": "..."`, `TOKEN: ...`: the key's name says what the value is.
    Rule("assigned-secret", re.compile(
        r"(?i)\b(" + _ASSIGNED_KEY + r")\b['\"]?\s*[:=]\s*['\"]?([^\s'\",;()\[\]{}<>]{4,})"), 2, _placeholder),
)


def redact(text: str) -> Tuple[str, Counter]:
    """The text with every credential replaced by a marker, and how many of each kind were replaced."""
    found: Counter = Counter()
    for rule in RULES:
        text = rule.pattern.sub(_replacer(rule, found), text)
    return text, found


def _replacer(rule: Rule, found: Counter) -> Callable[["re.Match[str]"], str]:
    def replace(match: "re.Match[str]") -> str:
        if rule.keep is not None and rule.keep(match):
            return match.group(0)
        found[rule.kind] += 1
        start, end = match.start(rule.group) - match.start(), match.end(rule.group) - match.start()
        whole = match.group(0)
        return whole[:start] + MARK.format(rule.kind) + whole[end:]
    return replace
