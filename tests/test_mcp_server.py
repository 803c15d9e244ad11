"""The MCP server's pieces in-process: argument checks, schemas, and what the handshake imports."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import memento
from memento import tiers, validate
from memento.errors import InvalidInputError
from memento.mcp import arguments as mcp_arguments
from memento.mcp import server as mcp
from memento.mcp import tools as mcp_tools

from .conftest import REPO, run_python


def test_tier_choices_match_the_tier_registry():
    assert mcp.TIERS == tiers.TIERS


def test_every_field_of_a_memory_and_a_hit_leaves_over_mcp_as_its_schema_says(store_path):
    """The outputSchema decides what leaves; a field added to Memory or Hit must be added there too
    (embedded_with is the store's bookkeeping, a hit's context is not sent over MCP)."""
    import dataclasses
    memory_schema = mcp_tools.BY_NAME["get"].output_schema["properties"]
    hit_schema = mcp_tools.BY_NAME["recall"].output_schema["properties"]["results"]["items"]["properties"]
    assert set(memory_schema) == {f.name for f in dataclasses.fields(memento.Memory)} - {"embedded_with"}
    assert set(hit_schema) == {f.name for f in dataclasses.fields(memento.Hit)} - {"context"}
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember("the kiwi is ripe", tags=["fruit"], metadata={"n": 1}, thread="t")
        as_json = mcp_tools.memory_json(kept)
        hit_json = mcp_tools.hit_json(mem.recall("kiwi")[0])
    assert list(as_json) == list(memory_schema) and as_json["tags"] == ["fruit"] and as_json["thread"] == "t"
    assert list(hit_json) == list(hit_schema) and hit_json["id"] == kept.id and hit_json["tags"] == ["fruit"]


def test_every_tool_schema_is_a_closed_object_and_output_fields_are_required():
    for tool in mcp_tools.TOOLS:
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False
        assert tool.output_schema["type"] == "object"
        assert set(tool.output_schema.get("required", [])) == set(tool.output_schema["properties"])
        assert len(tool.description) > 60 and tool.annotations["title"] == tool.title


@pytest.mark.parametrize("arguments, fixed", [
    ({"id": 5.0}, {"id": 5}), ({"id": 1}, {"id": 1}),
])
def test_integral_numbers_are_accepted_as_integers(arguments, fixed):
    assert mcp_arguments.check_arguments(mcp_tools.BY_NAME["get"].input_schema, arguments) == fixed


@pytest.mark.parametrize("arguments, words", [
    ({"id": True}, "integer"), ({"id": 0}, "between"), ({"id": 2 ** 63}, "between"), ({"id": "7"}, "integer"),
    ({"id": float("nan")}, "integer"), ({}, "missing"), ({"id": 1, "x": 2}, "unknown argument"), ([1], "object"),
])
def test_bad_arguments_are_refused_before_the_store(arguments, words):
    with pytest.raises(InvalidInputError, match=words):
        mcp_arguments.check_arguments(mcp_tools.BY_NAME["get"].input_schema, arguments)


def test_tags_items_are_checked():
    schema = mcp_tools.BY_NAME["remember"].input_schema
    with pytest.raises(InvalidInputError, match=r"tags\[1\] must be a string"):
        mcp_arguments.check_arguments(schema, {"text": "x", "tags": ["ok", 3]})
    with pytest.raises(InvalidInputError, match="at most 64"):
        mcp_arguments.check_arguments(schema, {"text": "x", "tags": ["t"] * 65})


def test_the_largest_valid_request_fits_in_a_line(store_path):
    astral = "\U0001d400"                                  # MATHEMATICAL BOLD CAPITAL A: 12 bytes escaped
    arguments = {"text": astral * validate.MAX_TEXT_CHARS,
                 "tags": [f"{i:02d}" + astral * (validate.MAX_TAG_CHARS - 2) for i in range(validate.MAX_TAGS)],
                 "metadata": {"m": astral * (validate.MAX_METADATA_BYTES // 4 - 4)}}
    message = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
               "params": {"name": "remember", "arguments": arguments}}
    line = json.dumps(message).encode() + b"\n"
    assert 1_000_000 < len(line) <= mcp.MAX_LINE_BYTES
    out = io.BytesIO()
    server = mcp.Server(str(store_path), "minimal")
    try:
        mcp.serve(server, io.BytesIO(line), out)     # the stdio loop itself, with its line limit
    finally:
        server.close()
    result = json.loads(out.getvalue())["result"]
    assert result["isError"] is False, result["content"][0]["text"]
    with memento.open(store_path, tier="minimal") as mem:
        assert len(mem.get(result["structuredContent"]["id"]).text) == validate.MAX_TEXT_CHARS


@pytest.mark.spawns_python
def test_the_handshake_imports_neither_the_store_nor_the_tools():
    code = """
import json, sys
from memento.mcp import server as mcp
server = mcp.Server()
reply = server.handle_line(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}')
assert reply["result"]["serverInfo"]["name"] == "memento"
print(json.dumps(sorted(m for m in sys.modules if m.startswith("memento") or m in ("apsw", "dataclasses"))))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["memento", "memento.errors", "memento.mcp", "memento.mcp.server",
                                         "memento.strict_json"]


@pytest.mark.spawns_python
def test_python_dash_m_runs_every_command(tmp_path):
    db = str(tmp_path / "m.db")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = lambda *argv: subprocess.run([sys.executable, "-m", "memento", *argv], capture_output=True,  # noqa: E731
                                       text=True, env=env, timeout=120)
    made = run("remember", "python -m works", "--db", db, "--tier", "minimal", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(run("stats", "--db", db, "--json").stdout)["memories"] == 1
    assert "python -m works" in run("recall", "works", "--db", db).stdout
    assert "Model Context Protocol" in run("mcp", "--help").stdout
    assert run("mcp", "--tier", "huge").returncode == 2
