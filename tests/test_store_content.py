"""Whatever a store holds, every way a memory leaves survives it: a BLOB typed into `text` in the
sqlite3 shell, metadata with a number JSON writes as 1e999. MCP, --json and export write strict JSON
(a strict parser reads every line), export imports back, doctor names the odd rows."""
from __future__ import annotations

import io
import json
import math
import subprocess

import pytest

import memento
from memento import strict_json
from memento.cli import main
from memento.mcp import server as mcp

from .conftest import sqlite3_shell


def strict_loads(text: str):
    """A strict client: NaN, Infinity and -Infinity are refused, as JavaScript's JSON.parse does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def shell(path, sql: str) -> None:
    subprocess.run([sqlite3_shell(), str(path), sql], check=True, capture_output=True, text=True)


@pytest.fixture
def odd_store(store_path, tmp_path):
    """A store whose memory 1 has a BLOB text and memory 2 metadata {"n": 1e999}, both typed in the shell."""
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("the kiwi is ripe", tags=["fruit"])
        mem.remember("deploys happen on tuesdays kiwi")
    (tmp_path / "note.txt").write_bytes("a blob kiwi note \u00e9\n".encode("utf-8"))
    shell(store_path, f"UPDATE memories SET text = readfile('{tmp_path / 'note.txt'}') WHERE id = 1;"
                      "UPDATE memories SET metadata = '{\"n\":1e999,\"m\":-1e999}' WHERE id = 2;")
    return store_path


def test_the_shell_really_stored_a_blob_and_an_infinite_number(odd_store):
    out = subprocess.run([sqlite3_shell(), str(odd_store), "SELECT typeof(text) FROM memories ORDER BY id;"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["blob", "text"]


def test_the_library_reads_a_blob_as_text_and_an_infinite_number_as_infinity(odd_store):
    with memento.open(odd_store, tier="minimal") as mem:
        assert mem.get(1).text == "a blob kiwi note \u00e9\n"
        assert mem.get(2).metadata == {"n": math.inf, "m": -math.inf}
        assert {h.id for h in mem.recall("kiwi")} == {1, 2}
        assert [m.id for m in mem.iter()] == [1, 2]


def test_remembering_after_a_blob_text_keys_it_as_text(odd_store):
    # The shell's edit cleared memory 1's duplicate key; the next remember keys it again and must
    # read the BLOB as the text it shows (it raised TypeError, and every later remember with it).
    with memento.open(odd_store, tier="minimal") as mem:
        added = mem.remember("a new kiwi memory")
        again = mem.remember("a blob kiwi note \u00e9")  # the BLOB's text: a duplicate of memory 1
        assert again.id == 1 and added.id == 3
        assert {h.id for h in mem.recall("kiwi")} == {1, 2, 3}


def test_export_is_strict_json_and_imports_back_exactly(odd_store, tmp_path, capsys):
    assert main(["export", "--db", str(odd_store), "--tier", "minimal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [strict_loads(line) for line in lines]
    assert records[0]["text"] == "a blob kiwi note \u00e9\n"
    assert records[1]["metadata"] == {"n": math.inf, "m": -math.inf}
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    copy = tmp_path / "copy" / "memento.db"
    assert main(["import", str(tmp_path / "export.jsonl"), "--db", str(copy), "--tier", "minimal"]) == 0
    with memento.open(copy, tier="minimal") as mem:
        assert mem.get(1).text == "a blob kiwi note \u00e9\n"
        assert mem.get(2).metadata == {"n": math.inf, "m": -math.inf}


@pytest.mark.parametrize("command", [["recall", "kiwi"], ["list"], ["get", "2"], ["get", "1"], ["stats"]])
def test_json_output_is_strict(odd_store, capsys, command):
    assert main([*command, "--db", str(odd_store), "--tier", "minimal", "--json"]) == 0
    out = capsys.readouterr().out
    if command[0] in ("recall", "list"):
        assert len([strict_loads(line) for line in out.splitlines()]) == 2
    else:
        strict_loads(out)


def test_every_mcp_tool_answers_with_strict_json_lines(odd_store):
    server = mcp.Server(str(odd_store), "minimal")
    server.handle_line(b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}')
    try:
        for i, (tool, arguments) in enumerate([("recall", {"query": "kiwi"}), ("list", {}), ("get", {"id": 1}),
                                               ("get", {"id": 2}), ("stats", {})], 1):
            request = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}}
            out = io.BytesIO()
            mcp.serve(server, io.BytesIO(json.dumps(request).encode() + b"\n"), out)
            reply = strict_loads(out.getvalue().decode("ascii"))
            assert reply["id"] == i and reply["result"]["isError"] is False, reply
    finally:
        server.close()


def test_doctor_names_the_rows_that_hold_a_blob(odd_store):
    with memento.open(odd_store, tier="minimal") as mem:
        check = next(c for c in mem.doctor() if c.name == "text columns hold text")
    assert not check.ok and check.detail.startswith("1 memories")


def test_metadata_with_infinity_is_stored_as_json_that_reads_back_and_nan_is_refused(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember("a measurement", metadata={"upper": math.inf, "x": [1.5, -math.inf]})
        assert mem.get(kept.id).metadata == {"upper": math.inf, "x": [1.5, -math.inf]}
        stored = mem._conn.execute("SELECT metadata FROM memories WHERE id = ?", (kept.id,)).get
        assert strict_loads(stored) == {"upper": math.inf, "x": [1.5, -math.inf]}
        with pytest.raises(memento.InvalidInputError, match="NaN"):
            mem.remember("nan", metadata={"deep": [{"x": math.nan}]})


def test_strict_dumps_cannot_be_fooled_by_text_that_looks_like_its_marks():
    value = {"text": "\x00memento-0123456789abcdef-inf", "n": math.inf, "nan": math.nan}
    out = strict_json.dumps(value)
    assert strict_loads(out) == {"text": "\x00memento-0123456789abcdef-inf", "n": math.inf, "nan": None}


def test_metadata_nested_deeper_than_python_decodes_never_breaks_a_reader(store_path, capsys):
    """SQLite accepts JSON nested up to 1,000 levels (a shell edit); Python's decoder stops sooner.
    Such metadata reads as empty: recall, list, export and MCP answer instead of dying."""
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("a deep kiwi note")
    shell(store_path, "UPDATE memories SET metadata = '{\"a\":" + "[" * 990 + "]" * 990 + "}' WHERE id = 1;")
    with memento.open(store_path, tier="minimal") as mem:
        assert [(h.id, h.metadata) for h in mem.recall("kiwi")] == [(1, {})]
        assert [m.metadata for m in mem.iter()] == [{}]
    assert main(["export", "--db", str(store_path), "--tier", "minimal"]) == 0
    assert strict_loads(capsys.readouterr().out)["text"] == "a deep kiwi note"
    server = mcp.Server(str(store_path), "minimal")
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "recall", "arguments": {"query": "kiwi"}}}
        out = io.BytesIO()
        mcp.serve(server, io.BytesIO(json.dumps(request).encode() + b"\n"), out)
        assert strict_loads(out.getvalue().decode("ascii"))["result"]["isError"] is False
    finally:
        server.close()
