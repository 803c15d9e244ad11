"""Hostile arguments and files for the `memento` command: a clear error
line and exit status, never a traceback; import stores what it says it stored."""
from __future__ import annotations

import json
import tracemalloc

import pytest

import memento
from memento.cli import main


def run(capsys, *argv) -> tuple:
    """Keyword-only (every command takes --tier): what is tested here is parsing and files, not vectors."""
    try:
        code = main([str(a) for a in argv] + ["--tier", "minimal"])
    except SystemExit as e:  # argparse refusals
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def count(path) -> int:
    with memento.open(path, tier="minimal") as mem:
        return mem.count()


def texts(path) -> list:
    with memento.open(path, tier="minimal") as mem:
        return [m.text for m in mem.iter()]


def jsonl(path, n: int, text=lambda i: f"note {i}"):
    path.write_text("".join(json.dumps({"text": text(i)}) + "\n" for i in range(n)), encoding="utf-8")
    return path


# -- item 4: numbers on the command line -----------------------------------------------------------

@pytest.mark.parametrize("batch", ["0", "-1", "-500", "x", "1.5"])
def test_import_batch_must_be_a_positive_int(capsys, tmp_path, batch):
    f = jsonl(tmp_path / "in.jsonl", 7)
    code, _, err = run(capsys, "import", f, "--batch", batch, "--db", tmp_path / "s.db")
    assert code == 2 and "--batch" in err and "Traceback" not in err
    assert not (tmp_path / "s.db").exists() or count(tmp_path / "s.db") == 0


@pytest.mark.parametrize("batch", ["1", "2", "3", "7", "500"])
def test_import_reports_exactly_what_it_stored(capsys, tmp_path, batch):
    f = jsonl(tmp_path / "in.jsonl", 7)
    code, out, err = run(capsys, "import", f, "--batch", batch, "--db", tmp_path / "s.db", "--json")
    assert code == 0 and json.loads(out) == {"added": 7, "merged": 0, "skipped": 0} and "7/7" in err
    assert texts(tmp_path / "s.db") == [f"note {i}" for i in range(7)]


@pytest.mark.parametrize("argv", [
    ["recall", "x", "-k", "0"], ["recall", "x", "-k", "-3"], ["recall", "x", "-k", "1001"],
    ["list", "--limit", "-1"], ["list", "--limit", "many"],
    ["get", "0"], ["get", "-1"], ["get", str(2**63)], ["get", "1e3"],
    ["forget", "1", str(2**64)], ["forget", "-7"],
])
def test_bad_numbers_are_refused_by_the_parser(capsys, store_path, argv):
    code, _, err = run(capsys, *argv, "--db", store_path)
    assert code == 2 and "error: argument" in err and "Traceback" not in err


def test_list_limit_zero_lists_nothing(capsys, store_path):
    run(capsys, "remember", "one", "--db", store_path)
    code, out, _ = run(capsys, "list", "--limit", "0", "--db", store_path, "--json")
    assert code == 0 and out == ""


# -- item 12: files import must not choke on -----------------------------------------------------

def test_import_of_a_missing_file_or_a_directory(capsys, tmp_path):
    for target in (tmp_path / "nope.jsonl", tmp_path):
        code, _, err = run(capsys, "import", target, "--db", tmp_path / "s.db")
        assert code == 1 and err.startswith("memento: error: ") and str(target) in err, err


def test_import_of_invalid_utf8_names_the_line(capsys, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    code, _, err = run(capsys, "import", f, "--db", tmp_path / "s.db")
    assert code == 1 and "line 2" in err and "UTF-8" in err
    assert count(tmp_path / "s.db") == 0


@pytest.mark.parametrize("line", [
    '{"text": "big", "metadata": {"n": ' + "9" * 5000 + '}}',          # beyond int's str-digit limit
    '{"text": "deep", "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,
    '{"text": "deep", "metadata": ' + '{"a": ' * 200 + "1" + "}" * 201,
    '[' * 50_000 + ']' * 50_000,
    '42', 'null', '["a list"]',
    '{"text": "x", "created_at": "0001-01-01T00:00:00+01:00"}',
])
def test_import_of_hostile_json_is_a_clear_error(capsys, tmp_path, line):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    code, _, err = run(capsys, "import", f, "--db", tmp_path / "s.db")
    assert code == 1 and "line 2" in err and "Traceback" not in err, err[-300:]
    assert count(tmp_path / "s.db") == 0


def test_import_refuses_an_overlong_line_without_reading_it_whole(capsys, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "' + "x" * 5_000_000 + '"}\n', encoding="utf-8")
    code, _, err = run(capsys, "import", f, "--db", tmp_path / "s.db")
    assert code == 1 and "line 1" in err and "longer" in err


def test_import_skips_blank_lines_and_a_byte_order_mark(capsys, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_bytes('\ufeff{"text": "one"}\n\n   \r\n"a JSON string is a text"\n{"text": "two"}'.encode("utf-8"))
    code, _, _ = run(capsys, "import", f, "--db", tmp_path / "s.db")
    assert code == 0 and texts(tmp_path / "s.db") == ["one", "a JSON string is a text", "two"]


def test_import_from_stdin_reports_what_it_stored_before_a_bad_line(capsys, tmp_path, monkeypatch):
    """A pipe cannot be read twice: batches before a bad line are kept, and the error says how many."""
    import os
    import sys
    lines = "".join(json.dumps({"text": f"n{i}"}) + "\n" for i in range(5)) + '{"text": ""}\n'
    read_end, write_end = os.pipe()
    os.write(write_end, lines.encode())
    os.close(write_end)
    with open(read_end, encoding="utf-8") as pipe:
        monkeypatch.setattr(sys, "stdin", pipe)
        code, _, err = run(capsys, "import", "-", "--batch", "2", "--db", tmp_path / "s.db")
    assert code == 1 and "line 6" in err and "4 memories were stored before it" in err
    assert texts(tmp_path / "s.db") == ["n0", "n1", "n2", "n3"]


def test_import_from_a_pipe_in_one_go(capsys, tmp_path, monkeypatch):
    import os
    import sys
    read_end, write_end = os.pipe()
    os.write(write_end, b"".join(json.dumps({"text": f"p{i}"}).encode() + b"\n" for i in range(5)))
    os.close(write_end)
    with open(read_end, encoding="utf-8") as pipe:
        monkeypatch.setattr(sys, "stdin", pipe)
        code, out, err = run(capsys, "import", "-", "--batch", "2", "--db", tmp_path / "s.db", "--json")
    assert code == 0 and json.loads(out) == {"added": 5, "merged": 0, "skipped": 0} and "import 5" in err


# -- item 13 ---------------------------------------------------------------------------------------

def test_forget_tries_every_id_and_reports_the_missing(capsys, store_path):
    db = ["--db", store_path]
    ids = [json.loads(run(capsys, "remember", t, *db, "--json")[1])["id"] for t in ("a", "b", "c")]
    code, out, err = run(capsys, "forget", ids[0], 999, ids[2], *db)
    assert code == 1 and "999" in err and "forgot 2 memories" in out
    assert texts(store_path) == ["b"]
    code, out, err = run(capsys, "forget", ids[1], 998, *db, "--json")
    assert code == 1 and json.loads(out) == {"forgotten": [ids[1]], "not_found": [998]}


def test_human_output_escapes_terminal_control_characters(capsys, store_path):
    evil = "pwned \x1b[2J\x1b]0;title\x07 bell\x9b31m tab\there"
    db = ["--db", store_path]
    run(capsys, "remember", evil, "--tag", "x", "--meta", "k=\x1b[31m", *db)
    for argv in (["list"], ["recall", "pwned"], ["get", "1"]):
        code, out, _ = run(capsys, *argv, *db)
        assert code == 0 and "pwned" in out, argv
        assert not any(c in out for c in "\x1b\x07\x9b\t"), (argv, out)
        assert "\\x1b[2J" in out, argv
    code, out, _ = run(capsys, "list", *db, "--json")
    assert json.loads(out)["text"] == evil  # JSON stays exact
    code, out, _ = run(capsys, "get", "1", *db, "--json")
    assert json.loads(out)["metadata"] == {"k": "\x1b[31m"}


def test_import_streams_with_memory_bounded_by_the_batch(capsys, tmp_path):
    """An import holds one batch, not the file: peak Python allocations stay far below the file size."""
    f = jsonl(tmp_path / "big.jsonl", 6_000, text=lambda i: f"note {i} " + "lorem ipsum dolor " * 55)
    size = f.stat().st_size
    assert size > 6_000_000
    run(capsys, "remember", "warm up the store", "--db", tmp_path / "s.db")
    tracemalloc.start()
    try:
        code, out, _ = run(capsys, "import", f, "--batch", "200", "--db", tmp_path / "s.db", "--json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0 and json.loads(out) == {"added": 6_000, "merged": 0, "skipped": 0}
    assert peak < size / 3, f"peak {peak:,} bytes for a {size:,}-byte file"
    assert count(tmp_path / "s.db") == 6_001


def test_early_times_survive_export_and_import(capsys, tmp_path):
    """Item 5: a year before 1000 is stored zero-padded, so export -> import keeps it and filters see it."""
    src, dst = ["--db", tmp_path / "a.db"], ["--db", tmp_path / "b.db"]
    run(capsys, "remember", "the siege", "--created-at", "0500-06-01T10:00:00Z", *src)
    run(capsys, "remember", "the moon landing", "--created-at", "1969-07-20T20:17:00Z", *src)
    _, exported, _ = run(capsys, "export", *src)
    (tmp_path / "dump.jsonl").write_text(exported, encoding="utf-8")
    code, _, err = run(capsys, "import", tmp_path / "dump.jsonl", *dst)
    assert code == 0, err
    _, out, _ = run(capsys, "list", *dst, "--json")
    assert [json.loads(line)["created_at"] for line in out.splitlines()] == \
        ["0500-06-01T10:00:00.000Z", "1969-07-20T20:17:00.000Z"]
    _, out, _ = run(capsys, "recall", "siege landing", "--until", "1000-01-01", *dst, "--json")
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["the siege"]
    _, out, _ = run(capsys, "stats", *dst, "--json")
    assert json.loads(out)["oldest"] == "0500-06-01T10:00:00.000Z"
