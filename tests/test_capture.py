"""Session transcripts in (`memento import --format claude-code|openclaw-sessions`, `memento hook`):
fixtures written the way Claude Code and OpenClaw write them, real files, a real store, the real CLI."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import memento
from memento.cli import main
from memento.formats import claude_code, openclaw_sessions, transcripts

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SESSION = "7f3c2a10-5b9e-4c1d-9a2f-0e6b8d4c1a77"
THREAD = f"claude-code/{SESSION}"
OPENCLAW_SESSION = "b7300bff-a214-4c11-97ae-eab26883c67a"
NOT_MEMORIES = ("THINKING-SECRET", "TOOL-RESULT-TEXT", "HOOK-PROGRESS", "SYSTEM-LINE", "COMPACTION",
                "PARTIAL-LINE", "Atlas storage decision", "Caveat", "command-name", "Conversation compacted")


@pytest.fixture
def projects(tmp_path) -> Path:
    root = tmp_path / "projects"
    shutil.copytree(FIXTURES / "claude-code", root)
    return root


@pytest.fixture
def transcript(projects) -> Path:
    return projects / "-home-ada-projects-atlas" / f"{SESSION}.jsonl"


def line(uuid: str, role: str, text, when: str = "2026-03-14T10:00:00.000Z", **extra) -> str:
    content = text if isinstance(text, (str, list)) else str(text)
    event = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/ada/projects/atlas",
             "sessionId": SESSION, "version": "2.0.42", "type": role,
             "message": {"role": role, "content": content}, "uuid": uuid, "timestamp": when, **extra}
    return json.dumps(event) + "\n"


def append(path: Path, data) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def cli(store_path, *args) -> int:
    return main(["--db", str(store_path), "--tier", "minimal", *args])


def texts(store_path, thread=THREAD):
    with memento.open(store_path, tier="minimal") as mem:
        return [(m.speaker, m.text) for m in mem.iter(thread=thread)]


# -- what becomes a memory -------------------------------------------------------------------------

def test_claude_code_messages_become_memories_of_their_session(store_path, projects, capsys):
    assert cli(store_path, "import", "--format", "claude-code", str(projects)) == 0
    with memento.open(store_path, tier="minimal") as mem:
        stored = list(mem.iter(thread=THREAD))
        assert mem.count() == len(stored)
    assert [(m.speaker, m.text) for m in stored] == [
        ("user", "Which database should Atlas use? We need it to run on a Raspberry Pi."),
        ("assistant", "Use SQLite: one file, no server, and it runs well on a Raspberry Pi.\n\n"
                      "Keep the keyword index in FTS5."),
        ("user", "Deploy with OPENAI_API_KEY=[redacted: openai-key] on the Pi."),
        ("user", "Ok. Ok."),
        ("assistant", "Ok. Ok."),
    ]
    first = stored[0]
    assert first.created_at == "2026-03-14T09:00:01.000Z"
    assert first.metadata == {"source": "claude-code", "session": SESSION, "uuid": "u-0001",
                              "cwd": "/home/ada/projects/atlas", "file": str(projects / "-home-ada-projects-atlas" /
                                                                             f"{SESSION}.jsonl")}
    assert [m.metadata["uuid"] for m in stored] == ["u-0001", "u-0007", "u-0008", "u-0013", "u-0014"]
    assert not any(word in m.text for m in stored for word in NOT_MEMORIES)
    out = capsys.readouterr().out
    assert "5 messages stored as 5 memories" in out and "1 openai-key" in out


def test_openclaw_session_messages_become_memories_of_agent_and_session(store_path, tmp_path):
    root = tmp_path / "agents"
    shutil.copytree(FIXTURES / "openclaw-sessions" / "agents", root)
    assert cli(store_path, "import", "--format", "openclaw-sessions", str(root)) == 0
    thread = f"openclaw/main/{OPENCLAW_SESSION}"
    with memento.open(store_path, tier="minimal") as mem:
        stored = list(mem.iter(thread=thread))
        assert mem.count() == 3
    assert [(m.speaker, m.text) for m in stored] == [
        ("user", "Remind me: Bob is allergic to peanuts."),
        ("assistant", "Noted: Bob is allergic to peanuts."),
        ("user", "And my GitHub token is [redacted: github-token], keep it safe."),
    ]
    assert stored[0].metadata == {"source": "openclaw-sessions", "session": OPENCLAW_SESSION, "uuid": "a1b2c3d4",
                                  "agent": "main",
                                  "file": str(root / "main" / "sessions" / f"{OPENCLAW_SESSION}.jsonl")}
    assert stored[1].created_at == "2026-04-08T01:04:05.000Z"
    assert cli(store_path, "import", "--format", "openclaw-sessions", str(root)) == 0
    assert len(texts(store_path, thread)) == 3


def test_two_messages_with_the_same_text_stay_two_memories(store_path, transcript):
    append(transcript, "\n")                                          # completes the partial line
    append(transcript, line("dup-1", "user", "thanks") + line("dup-2", "user", "thanks"))
    cli(store_path, "import", "--format", "claude-code", str(transcript))
    assert texts(store_path).count(("user", "thanks")) == 2


def test_a_long_message_is_cut_into_neighbouring_chunks(store_path, tmp_path):
    paragraph = "The Atlas migration log says the import finished. " * 40      # ~2,000 characters
    long_text = "\n\n".join([paragraph] * 5)                                 # ~10,000 characters
    path = tmp_path / "p" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    path.write_text(line("a", "user", "before") + line("b", "assistant", long_text, "2026-03-14T10:00:01.000Z")
                    + line("c", "user", "after", "2026-03-14T10:00:02.000Z"))
    cli(store_path, "import", "--format", "claude-code", str(path))
    with memento.open(store_path, tier="minimal") as mem:
        stored = list(mem.iter(thread=THREAD))
    chunks = [m for m in stored if m.metadata["uuid"] == "b"]
    assert [m.text for m in stored][0] == "before" and stored[-1].text == "after"
    assert len(chunks) == 3 and all(len(m.text) <= transcripts.CHUNK_CHARS for m in chunks)
    assert [m.metadata["chunk"] for m in chunks] == [1, 2, 3] and chunks[0].metadata["chunks"] == 3
    assert [m.id for m in chunks] == sorted(m.id for m in chunks)
    assert " ".join(m.text for m in chunks).split() == long_text.split()


# -- incremental and idempotent ------------------------------------------------------------------

def test_a_rerun_adds_nothing_and_appended_lines_add_exactly_themselves(store_path, projects, transcript):
    cli(store_path, "import", "--format", "claude-code", str(projects))
    before = texts(store_path)
    cli(store_path, "import", "--format", "claude-code", str(projects))
    assert texts(store_path) == before
    # The partial last line is completed, then two more lines arrive.
    append(transcript, "\n")
    shutil.copy(transcript, transcript.with_suffix(".bak"))           # not *.jsonl: not read
    lines = transcript.read_text().splitlines()
    lines[-1] = line("u-0015", "assistant", "Now complete.", "2026-03-14T09:11:02.000Z").rstrip("\n")
    transcript.write_text("\n".join(lines) + "\n")                  # same file, same inode
    append(transcript, line("u-0016", "user", "Next question: backups?", "2026-03-14T09:12:00.000Z"))
    cli(store_path, "import", "--format", "claude-code", str(projects))
    assert texts(store_path) == before + [("assistant", "Now complete."), ("user", "Next question: backups?")]


def test_a_partial_last_line_waits_until_it_is_complete(store_path, tmp_path):
    path = tmp_path / f"{SESSION}.jsonl"
    whole = line("p1", "user", "first") + line("p2", "assistant", "second, written in two parts")
    path.write_text(whole[:len(whole) - 20])
    cli(store_path, "import", "--format", "claude-code", str(path))
    assert texts(store_path) == [("user", "first")]
    append(path, whole[len(whole) - 20:])
    cli(store_path, "import", "--format", "claude-code", str(path))
    assert texts(store_path) == [("user", "first"), ("assistant", "second, written in two parts")]


def test_a_rewritten_file_is_read_again_without_duplicates(store_path, tmp_path):
    path = tmp_path / f"{SESSION}.jsonl"
    path.write_text(line("r1", "user", "one") + line("r2", "assistant", "two"))
    cli(store_path, "import", "--format", "claude-code", str(path))
    # Rewritten through a new file (a new inode), with a message inserted before the old ones.
    new = tmp_path / "new.tmp"
    new.write_text(line("r0", "user", "zero") + line("r1", "user", "one") + line("r2", "assistant", "two"))
    os.replace(new, path)
    cli(store_path, "import", "--format", "claude-code", "--json", str(path))
    assert sorted(texts(store_path)) == sorted([("user", "zero"), ("user", "one"), ("assistant", "two")])


def test_a_truncated_file_is_read_again_and_loses_nothing(store_path, tmp_path):
    path = tmp_path / f"{SESSION}.jsonl"
    path.write_text(line("t1", "user", "one") + line("t2", "assistant", "two") + line("t3", "user", "three"))
    cli(store_path, "import", "--format", "claude-code", str(path))
    path.write_text(line("t1", "user", "one") + line("t4", "assistant", "four"))     # shorter, same inode
    cli(store_path, "import", "--format", "claude-code", str(path))
    assert texts(store_path) == [("user", "one"), ("assistant", "two"), ("user", "three"), ("assistant", "four")]


def test_a_same_size_rewrite_in_place_is_noticed(store_path, tmp_path):
    path = tmp_path / f"{SESSION}.jsonl"
    path.write_text(line("s1", "user", "aaaa"))
    cli(store_path, "import", "--format", "claude-code", str(path))
    path.write_text(line("s2", "user", "bbbb"))                                  # same length
    os.utime(path, ns=(1, 1))
    cli(store_path, "import", "--format", "claude-code", str(path))
    assert texts(store_path) == [("user", "aaaa"), ("user", "bbbb")]


def test_a_vanished_file_keeps_its_memories(store_path, projects, transcript):
    cli(store_path, "import", "--format", "claude-code", str(projects))
    before = texts(store_path)
    transcript.unlink()
    assert cli(store_path, "import", "--format", "claude-code", str(projects)) == 0
    assert texts(store_path) == before


def _session_file(root: Path, project: str, session: str, messages, copied_from: str = "") -> Path:
    """A Claude Code transcript <root>/<project>/<session>.jsonl; `copied_from`: a resumed session's
    file, which begins with the earlier session's lines (their own sessionId and uuids)."""
    path = root / project / f"{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else ""
    for n, (role, said) in enumerate(messages):
        text += line(f"{session}-{n}", role, said, when=f"2026-03-14T10:00:{n:02d}.000Z").replace(SESSION, session)
    if copied_from:
        text = (root / project / f"{copied_from}.jsonl").read_text() + text
    path.write_text(text)
    return path


def _by_thread(mem) -> dict:
    found: dict = {}
    for m in mem.iter():
        found.setdefault(m.thread, []).append((m.id, m.text, m.metadata.get("file")))
    return found


def test_prune_forgets_only_the_memories_of_vanished_transcripts(store_path, tmp_path, capsys):
    root = tmp_path / "projects"
    gone = _session_file(root, "-p-atlas", "s-gone", [("user", "Atlas runs on SQLite"), ("assistant", "Yes, WAL.")])
    _session_file(root, "-p-atlas", "s-kept", [("user", "Atlas backups run nightly")])
    _session_file(root, "-p-other", "s-other", [("user", "Other project notes")])
    agents = tmp_path / "agents"
    shutil.copytree(FIXTURES / "openclaw-sessions" / "agents", agents)
    assert cli(store_path, "import", "--format", "claude-code", str(root)) == 0
    assert cli(store_path, "import", "--format", "openclaw-sessions", str(agents)) == 0
    with memento.open(store_path, tier="minimal") as mem:
        own = mem.remember("my own note about Atlas").id
        before = _by_thread(mem)
    assert len(before["claude-code/s-gone"]) == 2
    gone.unlink()
    capsys.readouterr()

    # without --prune: kept, and said so
    assert cli(store_path, "import", "--format", "claude-code", str(root)) == 0
    assert "1 transcript gone: their memories are kept (--prune forgets them)" in capsys.readouterr().out
    with memento.open(store_path, tier="minimal") as mem:
        assert _by_thread(mem) == before

    # --prune over another folder: a vanished file outside it stays
    assert cli(store_path, "import", "--format", "claude-code", str(root / "-p-other"), "--prune", "--json") == 0
    assert json.loads(capsys.readouterr().out)["vanished"] == 0
    with memento.open(store_path, tier="minimal") as mem:
        assert _by_thread(mem) == before

    # --prune over its folder: exactly its memories and its read position go
    assert cli(store_path, "import", "--format", "claude-code", str(root), "--prune") == 0
    assert "1 transcript gone: 2 memories forgotten" in capsys.readouterr().out
    with memento.open(store_path, tier="minimal") as mem:
        after = _by_thread(mem)
        assert not any(k.endswith(str(gone)) for k in mem.positions("position:"))
        assert mem.get(own).text == "my own note about Atlas"
    assert after == {t: v for t, v in before.items() if t != "claude-code/s-gone"}    # same ids, other sources too
    assert cli(store_path, "import", "--format", "claude-code", str(root), "--prune", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["vanished"], summary["forgotten"], summary["files"], summary["unchanged"]) == (0, 0, 0, 2)


def test_prune_gives_a_resumed_sessions_copied_lines_to_the_file_that_still_holds_them(store_path, tmp_path):
    """Claude Code writes a resumed session's history into the new session's file: those lines are
    stored once, from the file read first. When that file goes, the copy brings them back as its own."""
    root = tmp_path / "projects"
    first = _session_file(root, "-p", "a-first", [("user", "Plan the Atlas release"), ("assistant", "Friday.")])
    resumed = _session_file(root, "-p", "b-resumed", [("user", "Now the changelog")], copied_from="a-first")
    with memento.open(store_path, tier="minimal") as mem:
        claude_code.capture(mem, str(root))
        before = _by_thread(mem)
        assert [f for _, _, f in before["claude-code/a-first"]] == [str(first), str(first)]
        first.unlink()
        summary = claude_code.capture(mem, str(root), prune=True)
        after = _by_thread(mem)
        assert (summary.vanished, summary.forgotten, summary.added, summary.already) == (1, 2, 2, 1)
        assert claude_code.capture(mem, str(root), prune=True).added == 0
    assert [(t, f) for _, t, f in after["claude-code/a-first"]] == [
        ("Plan the Atlas release", str(resumed)), ("Friday.", str(resumed))]
    assert after["claude-code/b-resumed"] == before["claude-code/b-resumed"]      # untouched: same ids


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_lines_copied_into_a_resumed_session_are_stored_once_across_batches(store_path, tmp_path, batch_size):
    """The ids a thread holds are looked up again after each commit (not kept for the whole run):
    whatever the batch, a copied line is found stored and never stored twice."""
    root = tmp_path / "projects"
    _session_file(root, "-p", "a-first", [("user", "one"), ("assistant", "two"), ("user", "three")])
    _session_file(root, "-p", "b-resumed", [("user", "four")], copied_from="a-first")
    with memento.open(store_path, tier="minimal") as mem:
        summary = claude_code.capture(mem, str(root), batch_size=batch_size)
        stored = _by_thread(mem)
    assert (summary.added, summary.already) == (4, 3)
    assert [t for _, t, _ in stored["claude-code/a-first"]] == ["one", "two", "three"]


def test_a_transcript_behind_an_unreadable_folder_is_not_gone(store_path, tmp_path):
    """chmod 0 on its folder: the file cannot be looked at, which is not vanishing (tests/unprivileged.py)."""
    from .unprivileged import memento_cli
    root = tmp_path / "projects"
    hidden = _session_file(root, "-p-locked", "s-locked", [("user", "Locked away")])
    _session_file(root, "-p-open", "s-open", [("user", "In the open")])
    assert cli(store_path, "import", "--format", "claude-code", str(root)) == 0
    hidden.parent.chmod(0)
    try:
        done = memento_cli("--db", store_path, "--tier", "minimal", "import", "--format", "claude-code",
                           str(root), "--prune", "--json")
    finally:
        hidden.parent.chmod(0o700)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vanished"] == 0 and "folder not readable" in done.stderr
    assert texts(store_path, "claude-code/s-locked") == [("user", "Locked away")]


def test_forget_at_forgets_and_moves_positions_in_one_transaction(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        kept, gone = mem.remember_at(["kept", "gone"], {"position:test:a": "1", "position:test:b": "2"})
        mem.forget(kept.id)   # already forgotten by hand: passed over, not an error
        assert mem.forget_at([kept.id, gone.id], {"position:test:a": None}) == 1
        assert mem.count() == 0 and mem.positions("position:test:") == {"position:test:b": "2"}
        with pytest.raises(memento.InvalidInputError):
            mem.forget_at([], {"tier": None})                   # never a meta or setting key
        with pytest.raises(memento.InvalidInputError):
            mem.forget_at([0], {})


def test_a_rerun_over_many_files_opens_none_of_them(store_path, tmp_path):
    root = tmp_path / "many"
    for i in range(30):
        folder = root / f"-proj-{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"s{i}.jsonl").write_text(line(f"m{i}", "user", f"message {i}").replace(SESSION, f"s{i}"))
    with memento.open(store_path, tier="minimal") as mem:
        first = claude_code.capture(mem, str(root))
        again = claude_code.capture(mem, str(root))
    assert (first.files, first.added) == (30, 30)
    assert (again.files, again.unchanged, again.lines, again.added) == (0, 30, 0, 0)


def test_read_positions_commit_with_their_memories(store_path, transcript):
    """The position of a file and the memories read up to it are one transaction: a refused batch
    leaves neither, so the next run reads the same lines again."""
    with memento.open(store_path, tier="minimal") as mem:
        with pytest.raises(memento.InvalidInputError):
            mem.remember_at(["ok", ""], {"position:test:x": "1"})
        assert mem.positions("position:") == {} and mem.count() == 0
        mem.remember_at(["ok"], {"position:test:x": "1"})
        assert mem.positions("position:test:") == {"position:test:x": "1"} and mem.count() == 1
        assert mem.meta().tier == "minimal"                     # positions are not the store's record
        with pytest.raises(memento.InvalidInputError):
            mem.remember_at([], {"tier": "full"})               # never a meta or setting key


# -- bad input -----------------------------------------------------------------------------------

def test_bad_lines_are_reported_and_skipped(store_path, tmp_path, capsys):
    path = tmp_path / f"{SESSION}.jsonl"
    path.write_bytes(line("b1", "user", "good one").encode() + b"{not json\n" + b'"a string"\n'
                     + line("b2", "user", "caf\u00e9 broken").encode().replace(b"\\u00e9", b"\xe9")
                     + b"\n\n" + line("b3", "assistant", "good two").encode())
    assert cli(store_path, "import", "--format", "claude-code", str(path)) == 0
    assert texts(store_path) == [("user", "good one"), ("assistant", "good two")]
    err = capsys.readouterr().err
    assert "not JSON" in err and "not a JSON object" in err and "not UTF-8 (byte 0xe9)" in err


def test_a_huge_line_is_skipped_without_being_held(store_path, tmp_path):
    path = tmp_path / f"{SESSION}.jsonl"
    with open(path, "wb") as f:
        f.write(line("h1", "user", "before").encode())
        f.write(b'{"type":"user","toolUseResult":"')
        chunk = b"x" * 2**20  # written a MiB at a time: the test itself stays small (the Pi lane's 100 MB cap)
        for _ in range(transcripts.MAX_LINE_BYTES // len(chunk) + 1):
            f.write(chunk)
        f.write(b'"}\n')
        f.write(line("h2", "user", "after").encode())
    with memento.open(store_path, tier="minimal") as mem:
        summary = claude_code.capture(mem, str(path))
        assert (summary.bad_lines, summary.added) == (1, 2)
        again = claude_code.capture(mem, str(path))
    assert (again.unchanged, again.added) == (1, 0)
    assert texts(store_path) == [("user", "before"), ("user", "after")]


def test_files_that_cannot_be_read_as_transcripts_are_reported_and_skipped(store_path, tmp_path, capsys):
    root = tmp_path / "projects"
    good = root / "-p"
    good.mkdir(parents=True)
    (good / f"{SESSION}.jsonl").write_text(line("g1", "user", "the one good message"))
    os.mkfifo(good / "fifo.jsonl")                                  # reading would block forever
    os.symlink(good / "loop.jsonl", good / "loop.jsonl")            # a symlink loop
    os.symlink(good / f"{SESSION}.jsonl", good / "link.jsonl")      # symlinks are not followed
    os.symlink(root, good / "back-up")                              # nor symlinked folders
    (good / "notes.jsonl").write_text("just some text\nnot a transcript\n")
    (good / "array.jsonl").write_text('[1, 2, 3]\n')
    (good / "empty.jsonl").write_text("")
    (good / "dir.jsonl").mkdir()
    assert cli(store_path, "import", "--format", "claude-code", str(root)) == 0
    assert texts(store_path) == [("user", "the one good message")]
    err = capsys.readouterr().err
    for name, reason in [("fifo.jsonl", "not a regular file"), ("loop.jsonl", "symlink"), ("link.jsonl", "symlink"),
                         ("back-up", "symlink"), ("notes.jsonl", "not a claude-code transcript"),
                         ("array.jsonl", "not a claude-code transcript")]:
        assert any(name in e and reason in e for e in err.splitlines()), (name, err)


def test_a_missing_path_is_an_error_not_a_crash(store_path, tmp_path, capsys):
    assert cli(store_path, "import", "--format", "claude-code", str(tmp_path / "nowhere")) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_the_default_folders_follow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OPENCLAW_STATE_DIR", raising=False)
    assert claude_code.default_root() == str(tmp_path / ".claude" / "projects")
    assert openclaw_sessions.default_root() == str(tmp_path / ".openclaw" / "agents")


# -- the hook ------------------------------------------------------------------------------------

def hook(store_path, payload, *args, tier="minimal") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "XDG_STATE_HOME": str(Path(store_path).parent / "state")}   # the hook log, never the real home's
    return subprocess.run([sys.executable, "-m", "memento", "--db", str(store_path), "--tier", tier, "hook",
                           "claude-code", *args], input=payload, capture_output=True, text=True, env=env, timeout=120)


def hook_input(path: Path, event: str = "Stop") -> str:
    return json.dumps({"session_id": SESSION, "transcript_path": str(path), "cwd": "/home/ada/projects/atlas",
                       "hook_event_name": event, "permission_mode": "default", "stop_hook_active": False})


def test_the_hook_captures_the_transcript_it_is_given(store_path, transcript):
    done = hook(store_path, hook_input(transcript))
    assert (done.returncode, done.stderr) == (0, "")
    assert len(texts(store_path)) == 5
    append(transcript, "\n" + line("u-0020", "user", "One more thing."))
    assert hook(store_path, hook_input(transcript, "SessionEnd")).returncode == 0
    assert texts(store_path)[-1] == ("user", "One more thing.")


@pytest.mark.parametrize("payload", ["not json", "{}", '{"transcript_path": 3}', ""])
def test_the_hook_never_blocks_the_agent(store_path, payload):
    done = hook(store_path, payload)
    assert done.returncode == 0 and "memento hook: error" in done.stderr
    assert hook(store_path, payload, "--strict").returncode == 1


def test_the_hook_reports_a_missing_transcript_and_exits_0(store_path, tmp_path):
    done = hook(store_path, hook_input(tmp_path / "gone.jsonl"))
    assert done.returncode == 0 and "no such file" in done.stderr


def test_the_hook_keeps_its_errors_in_an_owner_only_log(store_path, tmp_path):
    """Nobody reads an agent hook's stderr: the error stays in $XDG_STATE_HOME/memento/hook.log too,
    one escaped line each, owner-only like the store."""
    hook(store_path, hook_input(tmp_path / "gone\x1b[31m.jsonl"))
    hook(store_path, "not json")
    log = Path(store_path).parent / "state" / "memento" / "hook.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "no such file" in lines[0] and "not JSON" in lines[1]
    assert "\x1b" not in log.read_text(encoding="utf-8") and "\\x1b" in lines[0]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_the_hook_never_loads_the_model_in_a_vector_tier(store_path, transcript):
    from tests.conftest import require_tier
    require_tier("full")
    code = ("import io, sys\n"
            f"sys.stdin = io.StringIO({hook_input(transcript)!r})\n"
            "from memento.cli import main\n"
            f"rc = main(['--db', {str(store_path)!r}, '--tier', 'full', 'hook', 'claude-code'])\n"
            "print(rc, 'fastembed' in sys.modules, 'onnxruntime' in sys.modules)\n")
    from tests.conftest import run_python
    done = run_python(code)
    assert done.stdout.split() == ["0", "False", "False"], done.stderr
    with memento.open(store_path, tier="full") as mem:
        assert mem.stats().pending_embeddings == 5


def test_a_capture_killed_midway_completes_exactly_on_the_next_run(store_path, tmp_path):
    """Whenever the kill lands, the memories and the read positions agree: the rerun adds exactly
    what is missing, never a duplicate."""
    root = tmp_path / "projects" / "-p"
    root.mkdir(parents=True)
    for s in range(12):
        session = f"s{s}"
        (root / f"{session}.jsonl").write_text("".join(
            line(f"{session}-{i}", "user" if i % 2 else "assistant", f"message {i} of {session}",
                 f"2026-03-14T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z").replace(SESSION, session)
            for i in range(500)))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.Popen([sys.executable, "-m", "memento", "--db", str(store_path), "--tier", "minimal", "import",
                            "--format", "claude-code", "--batch", "40", str(tmp_path / "projects")],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run.wait(timeout=0.8)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
    assert cli(store_path, "import", "--format", "claude-code", str(tmp_path / "projects")) == 0
    with memento.open(store_path, tier="minimal") as mem:
        ids = [m.metadata["uuid"] for m in mem.iter()]
    assert len(ids) == len(set(ids)) == 6000
