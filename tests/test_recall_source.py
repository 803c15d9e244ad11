"""recall(source=...): only the memories whose thread starts with source + "/" (captured sessions:
claude-code/<sessionId>, openclaw/<agentId>/<sessionId>), in the library, both statements, the split
scan, the CLI and MCP; and every door's hits name their session (thread) and speaker."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import split_scan
from memento.cli import main
from memento.errors import InvalidInputError
from memento.formats import claude_code, openclaw_sessions
from memento.mcp import tools as mcp_tools

from .mcp_process import McpProcess

THREADS = ["claude-code/s1", "claude-code/s2/part", "claude-code", "claude-code0/x", "claude-codex/y",
           "Claude-Code/s3", "openclaw/main/s1", "openclaw/ops/s2", "openclaw-sessions/z", "a%b/1", "axb/1",
           "a_b/1", "é/1", None]


def _store(mem) -> dict:
    """One memory mentioning "postgres" in each thread of THREADS; thread -> id."""
    made = mem.remember_many([{"text": f"postgres note {i}", "thread": t} for i, t in enumerate(THREADS)],
                             dedup=False)
    return {t: m.id for t, m in zip(THREADS, made)}


def _threads(hits) -> set:
    return {h.thread for h in hits}


@pytest.mark.parametrize("source, threads", [
    ("claude-code", {"claude-code/s1", "claude-code/s2/part"}),        # not "claude-code", "claude-code0/x"...
    ("claude-code/", {"claude-code/s1", "claude-code/s2/part"}),       # a trailing "/" is dropped
    ("openclaw", {"openclaw/main/s1", "openclaw/ops/s2"}),
    ("openclaw-sessions", {"openclaw/main/s1", "openclaw/ops/s2"}),     # the import format's name
    ("openclaw/main", {"openclaw/main/s1"}),                            # one agent's sessions
    ("claude-code/s2", {"claude-code/s2/part"}),
    ("a%b", {"a%b/1"}), ("a_b", {"a_b/1"}), ("é", {"é/1"}),           # no LIKE: % and _ are characters
    ("claude", set()), ("Claude-Code", {"Claude-Code/s3"}),            # whole first parts, case-sensitive
])
def test_source_keeps_exactly_the_threads_under_it(mem, source, threads):
    _store(mem)
    assert _threads(mem.recall("postgres", k=50, source=source)) == threads
    assert _threads(mem.recall("postgres", k=50)) == set(THREADS)      # not vacuous: all match without it


def test_source_combines_with_thread_and_the_other_filters(mem):
    ids = _store(mem)
    mem.update(ids["claude-code/s1"], tags=["db"])
    assert _threads(mem.recall("postgres", source="claude-code", thread="claude-code/s1")) == {"claude-code/s1"}
    assert mem.recall("postgres", source="openclaw", thread="claude-code/s1") == []
    assert _threads(mem.recall("postgres", source="claude-code", tags=["db"])) == {"claude-code/s1"}
    assert mem.recall("postgres", source="claude-code", until="2000-01-01") == []


@pytest.mark.parametrize("bad, words", [("", "empty"), ("/", "empty"), ("  ", "empty"), (3, "str"),
                                        ("x" * 300, "limit"), ("a\x00b", "NUL")])
def test_a_bad_source_is_refused_with_our_error(mem, bad, words):
    with pytest.raises(InvalidInputError, match=words):
        mem.recall("postgres", source=bad)


NAME = st.text(st.sampled_from("ab/0.%_-é"), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(threads=st.lists(st.one_of(st.none(), NAME), min_size=1, max_size=12),
       source=NAME.filter(lambda s: s.strip("/")))
def test_source_is_the_prefix_rule_for_any_names(tmp_path_factory, threads, source):
    """Against Python's str.startswith: the range in SQL holds exactly the names under source + "/"."""
    path = tmp_path_factory.mktemp("source") / "m.db"
    with memento.open(path, tier="minimal") as mem:
        made = mem.remember_many([{"text": f"kiwi {i}", "thread": t} for i, t in enumerate(threads)], dedup=False)
        prefix = source.rstrip("/") + "/"
        expected = {m.id for m, t in zip(made, threads) if t is not None and t.startswith(prefix)}
        assert {h.id for h in mem.recall("kiwi", k=100, source=source)} == expected


def test_the_split_scan_honours_source(store_path, monkeypatch):
    rng = random.Random(5)
    words = "tea coffee berlin keys flight postgres sqlite".split()
    items = [{"text": " ".join(rng.choice(words) for _ in range(4)),
              "thread": ("claude-code/s%d" if i % 3 else "openclaw/main/s%d") % (i // 9)} for i in range(600)]
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(items, dedup=False)
        results = {}
        for on in (False, True):
            monkeypatch.setattr(split_scan, "SPLIT_FROM", 0 if on else 10 ** 12)
            results[on] = [[(h.id, h.score, h.thread) for h in mem.recall(q, k=15, source="openclaw")]
                           for q in ("tea berlin", "postgres keys", "flight")]
    assert results[True] == results[False]
    assert all(len(r) == 15 and all(t.startswith("openclaw/") for _, _, t in r) for r in results[True])


def test_hybrid_and_vector_recall_honour_source_on_both_paths(vmem):
    """A source passing few memories is scored exactly; one passing more than exact_limit widens the
    hamming list (the caller's vectors: no model time for 2,600 memories)."""
    rng = random.Random(7)
    unit = lambda: [rng.gauss(0, 1) for _ in range(vmem.dim)]  # noqa: E731
    items = [{"text": f"note {i} about postgres", "vector": unit(),
              "thread": "claude-code/s%d" % (i % 50) if i < 2_500 else "openclaw/main/s%d" % (i % 5)}
             for i in range(2_600)]
    vmem.remember_many(items, dedup=False)
    query = unit()
    for mode in ("hybrid", "vector"):
        found = {}
        for source in ("openclaw", "claude-code"):      # 100 memories (exact), 2,500 (the hamming list)
            found[source] = vmem.recall("postgres", k=20, mode=mode, vector=query, source=source)
            assert len(found[source]) == 20, (mode, source)
            assert all(h.thread.startswith(source + "/") for h in found[source]), (mode, source)
        everything = vmem.recall("postgres", k=20, mode=mode, vector=query)
        assert {h.id for h in everything} != {h.id for h in found["openclaw"]}   # the filter did the work


# -- captured sessions, through every door ------------------------------------------------------------

def _captured(store_path, tmp_path):
    """A Claude Code session and an OpenClaw session that both talk about SQLite, captured."""
    cc = tmp_path / "claude" / "-home-ada-atlas" / "cc-session.jsonl"
    cc.parent.mkdir(parents=True)
    cc.write_text("".join(json.dumps({
        "type": role, "uuid": f"cc-{n}", "sessionId": "cc-session", "cwd": "/home/ada/atlas",
        "timestamp": f"2026-11-03T10:00:0{n}.000Z", "message": {"role": role, "content": text}}) + "\n"
        for n, (role, text) in enumerate([("user", "Should Atlas keep its data in SQLite?"),
                                          ("assistant", "Yes: SQLite in WAL mode, one file per store.")])))
    oc = tmp_path / "openclaw" / "agents" / "main" / "sessions" / "oc-session.jsonl"
    oc.parent.mkdir(parents=True)
    oc.write_text("".join(json.dumps(e) + "\n" for e in [
        {"type": "session", "version": 3, "id": "oc-session", "timestamp": "2026-11-04T09:00:00.000Z"},
        {"type": "message", "id": "oc-1", "timestamp": "2026-11-04T09:00:01.000Z",
         "message": {"role": "user", "content": [{"type": "text", "text": "Back up the SQLite store nightly."}]}}]))
    with memento.open(store_path, tier="minimal") as mem:
        claude_code.capture(mem, str(tmp_path / "claude"))
        openclaw_sessions.capture(mem, str(tmp_path / "openclaw" / "agents"))
        mem.remember("SQLite notes of my own")


def test_recall_within_claude_code_or_openclaw_sessions(store_path, tmp_path):
    _captured(store_path, tmp_path)
    with memento.open(store_path, tier="minimal") as mem:
        assert len(mem.recall("sqlite")) == 4
        cc = mem.recall("sqlite", source="claude-code")
        oc = mem.recall("sqlite", source="openclaw")
    assert {(h.thread, h.speaker) for h in cc} == {("claude-code/cc-session", "user"),
                                                  ("claude-code/cc-session", "assistant")}
    assert cc[0].metadata["session"] == "cc-session" and cc[0].created_at.startswith("2026-11-03")
    assert [(h.thread, h.speaker, h.text) for h in oc] == [
        ("openclaw/main/oc-session", "user", "Back up the SQLite store nightly.")]


def test_cli_recall_source_and_its_hits_name_session_and_speaker(store_path, tmp_path, capsys):
    _captured(store_path, tmp_path)
    capsys.readouterr()
    assert main(["--db", str(store_path), "--tier", "minimal", "recall", "sqlite", "--source", "openclaw",
                 "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(h["thread"], h["speaker"], h["metadata"]["session"]) for h in hits] == [
        ("openclaw/main/oc-session", "user", "oc-session")]
    assert main(["--db", str(store_path), "--tier", "minimal", "recall", "sqlite", "--source", "claude-code"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:6] == ["id", "score", "relevance", "created_at", "speaker", "thread"]
    assert len(table) == 3 and all("claude-code/cc-session" in row for row in table[1:])
    assert main(["--db", str(store_path), "--tier", "minimal", "recall", "sqlite", "--source", ""]) != 0
    assert "source is empty" in capsys.readouterr().err


def test_mcp_recall_takes_source_and_names_session_and_speaker(store_path, tmp_path):
    _captured(store_path, tmp_path)
    schema = mcp_tools.BY_NAME["recall"].input_schema["properties"]
    assert "claude-code" in schema["source"]["description"] and "openclaw" in schema["source"]["description"]
    server = McpProcess(store_path)
    try:
        server.initialize()
        listed = {t["name"]: t for t in server.request("tools/list")["result"]["tools"]}
        assert "source" in listed["recall"]["inputSchema"]["properties"]
        result = server.call("recall", {"query": "sqlite", "source": "claude-code"})
        refused = server.call("recall", {"query": "sqlite", "source": "/"})
    finally:
        server.kill()
    hits = result["structuredContent"]["results"]
    assert {(h["thread"], h["speaker"]) for h in hits} == {("claude-code/cc-session", "user"),
                                                           ("claude-code/cc-session", "assistant")}
    text = result["content"][0]["text"]
    assert "user in claude-code/cc-session" in text and "assistant in claude-code/cc-session" in text
    assert refused["isError"] and "source is empty" in refused["content"][0]["text"]
