"""Credentials never reach the store: each kind memento/redact.py catches, and ordinary text it
must leave alone (docs/capture.md lists both)."""
from __future__ import annotations

import pytest

from memento.redact import redact

CAUGHT = [
    ("anthropic-key", "use sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345 for the bot"),
    ("openai-key", "export OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("openai-key", "old style sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh"),
    ("aws-access-key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("github-token", "git clone https://ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789@github.com/x/y"),
    ("github-token", "GH fine-grained github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("slack-token", "slack bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
    ("google-api-key", "maps key AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("stripe-key", "stripe sk_live_AbCdEfGhIjKlMnOpQrStUvWx"),
    ("jwt", "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
    ("private-key", "pasted half a key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"),
    ("connection-password", "DATABASE_URL=postgres://atlas:Tr0ub4dor@db.internal:5432/atlas"),
    ("bearer-token", "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789'"),
    ("assigned-secret", "password=hunter22"),
    ("assigned-secret", 'config = {"api_key": "a8f5f167f44f4964e6c998dee827110c"}'),
    ("assigned-secret", "DB_PASSWORD: correct-horse-battery"),
    ("assigned-secret", "client_secret = 'Zm9vYmFyYmF6'"),
]

KEPT = [
    "the password is in the vault, ask Bob for the token",
    "commit 9c0693c1f2e3 fixed it; sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "def login(user: str, password: str, token: Optional[str] = None) -> bool:",
    "max_tokens: 4096 and max_tokens=8192",
    "tokenizer: punkt; the authentication flow; secretary: Alice",
    "password=$DB_PASSWORD and token: ${TOKEN} and api_key=<your key>",
    "a risk-assessment-for-the-whole-migration-project-of-2026 plan",
    "https://example.com:8443/path and ssh git@github.com:org/repo.git",
    "AKIA is how AWS keys start; sk- is how OpenAI keys start",
]


@pytest.mark.parametrize("kind, text", CAUGHT)
def test_each_kind_of_credential_is_replaced_by_a_marker_naming_it(kind, text):
    out, found = redact(text)
    assert found == {kind: 1}, (out, found)
    assert f"[redacted: {kind}]" in out


def test_what_surrounds_a_secret_is_kept():
    out, _ = redact("DATABASE_URL=postgres://atlas:Tr0ub4dor@db.internal:5432/atlas (staging)")
    assert out == "DATABASE_URL=postgres://atlas:[redacted: connection-password]@db.internal:5432/atlas (staging)"
    out, _ = redact("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nthen deploy")
    assert out == "[redacted: private-key]\nthen deploy"


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == (text, {})


def test_several_secrets_are_counted_by_kind():
    out, found = redact("a AKIAIOSFODNN7EXAMPLE b AKIAI44QH8DHBEXAMPLE c password=hunter22")
    assert found == {"aws-access-key": 2, "assigned-secret": 1}
    assert "AKIA" not in out and "hunter22" not in out


def test_redacting_twice_changes_nothing_more():
    once, _ = redact("token: abcdef123456 and sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345")
    assert redact(once) == (once, {})
