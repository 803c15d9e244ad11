"""`memento mcp` driven by a real client: the official MCP Python SDK's stdio client.

The SDK is a test-only dependency (extra `mcp-test`); it needs Python >= 3.10."""
from __future__ import annotations

import os

import pytest

import memento

from .conftest import require_tier
from .mcp_process import REPO, server_command

mcp = pytest.importorskip(
    "mcp", reason="the MCP SDK is not installed (pip install 'memento-openclaw[mcp-test]', Python >= 3.10)")
anyio = pytest.importorskip("anyio")

pytestmark = pytest.mark.spawns_python

TOOLS = {"remember", "recall", "get", "update", "forget", "list", "stats"}


def _params(db, tier="minimal"):
    command = server_command(db, tier)
    env = {"PYTHONPATH": str(REPO), "MEMENTO_CACHE_DIR": os.environ["MEMENTO_CACHE_DIR"]}
    return mcp.StdioServerParameters(command=command[0], args=command[1:], env=env)


def session(db, tier="minimal"):
    """An initialized SDK session on a fresh `memento mcp` process (an async context manager)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def opened():
        async with mcp.stdio_client(_params(db, tier)) as (read, write):
            async with mcp.ClientSession(read, write) as client:
                await client.initialize()
                yield client
    return opened()


def run(coroutine_function, *args):
    return anyio.run(coroutine_function, *args)


def test_handshake_and_tool_list(store_path):
    async def go():
        async with session(store_path) as client:
            init = client.initialize_result
            listed = await client.list_tools()
            await client.send_ping()
            return init, listed
    init, listed = run(go)
    assert init.server_info.name == "memento"
    assert init.capabilities.tools is not None
    assert "recall" in init.instructions and "remember" in init.instructions
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.output_schema["type"] == "object"
        assert len(tool.description) > 40
    for name in ("recall", "get", "list", "stats"):
        assert tools[name].annotations.read_only_hint is True, name
    assert tools["forget"].annotations.destructive_hint is True
    assert tools["remember"].annotations.read_only_hint is False
    assert tools["remember"].input_schema["required"] == ["text"]


def test_every_tool(store_path):
    async def go():
        async with session(store_path) as client:
            out = {}
            r = await client.call_tool("remember", {"text": "Alice switched from coffee to green tea",
                                                    "tags": ["prefs"], "metadata": {"src": "chat"},
                                                    "created_at": "2026-01-02T03:04:05Z", "pinned": True})
            out["remember"] = r
            second = await client.call_tool("remember", {"text": "Bob is allergic to peanuts", "tags": ["health"]})
            first_id, second_id = r.structured_content["id"], second.structured_content["id"]
            out["recall"] = await client.call_tool("recall", {"query": "what does alice drink? tea", "k": 5})
            out["recall_tagged"] = await client.call_tool("recall", {"query": "tea", "tags": ["health"]})
            out["recall_window"] = await client.call_tool("recall", {"query": "peanuts", "since": "2026-06-01"})
            out["get"] = await client.call_tool("get", {"id": first_id})
            out["update"] = await client.call_tool("update", {"id": first_id, "text": "Alice drinks green tea now",
                                                              "tags": ["prefs", "drinks"]})
            out["list"] = await client.call_tool("list", {"limit": 10})
            out["stats"] = await client.call_tool("stats", {})
            out["forget"] = await client.call_tool("forget", {"id": second_id})
            out["get_forgotten"] = await client.call_tool("get", {"id": second_id})
            out["ids"] = (first_id, second_id)
            return out
    out = run(go)
    first_id, second_id = out["ids"]
    made = out["remember"].structured_content
    assert not out["remember"].is_error
    assert made["tags"] == ["prefs"] and made["metadata"] == {"src": "chat"} and made["pinned"] is True
    assert made["created_at"] == "2026-01-02T03:04:05.000Z"
    assert [c.type for c in out["remember"].content] == ["text"]
    assert "Alice switched" in out["remember"].content[0].text
    hits = out["recall"].structured_content["results"]
    assert hits[0]["id"] == first_id
    assert str(first_id) in out["recall"].content[0].text
    assert out["recall_tagged"].structured_content["results"] == []
    assert [h["id"] for h in out["recall_window"].structured_content["results"]] == [second_id]
    assert out["get"].structured_content == made
    updated = out["update"].structured_content
    assert updated["text"] == "Alice drinks green tea now" and updated["tags"] == ["prefs", "drinks"]
    assert updated["metadata"] == {"src": "chat"}
    # Newest first by created_at: Bob (now) before Alice (dated 2026-01-02).
    assert [m["id"] for m in out["list"].structured_content["memories"]] == [second_id, first_id]
    assert out["stats"].structured_content["memories"] == 2 and out["stats"].structured_content["tier"] == "minimal"
    assert out["forget"].structured_content == {"forgotten": second_id}
    assert out["get_forgotten"].is_error and "no memory with id" in out["get_forgotten"].content[0].text
    with memento.open(store_path, tier="minimal") as mem:
        assert [m.text for m in mem.iter()] == ["Alice drinks green tea now"]


BAD_CALLS = [
    ("remember", {"text": ""}, "text"),
    ("remember", {"text": "x" * 70_000}, "65,536"),
    ("remember", {"text": "x", "tags": ["no spaces allowed"]}, "tag"),
    ("remember", {"text": "x", "tags": "prefs"}, "array"),
    ("remember", {"text": "x", "metadata": [1]}, "object"),
    ("remember", {"text": "x", "created_at": "last tuesday"}, "ISO-8601"),
    ("remember", {"text": "x", "pinned": "yes"}, "true or false"),
    ("remember", {"text": "x", "colour": "red"}, "unknown argument"),
    ("remember", {}, "missing required argument"),
    ("recall", {"query": "x", "k": 0}, "between"),
    ("recall", {"query": "x", "mode": "vector"}, "vector tier"),
    ("recall", {"query": "x", "since": "2026-02-01", "until": "2026-01-01"}, "after until"),
    ("get", {"id": 424242}, "no memory with id"),
    ("get", {"id": 1.5}, "integer"),
    ("update", {"id": 424242, "text": "y"}, "no memory with id"),
    ("update", {"id": 1, "text": ""}, "text"),
    ("forget", {"id": 424242}, "no memory with id"),
    ("list", {"limit": -1}, "between"),
]


def test_bad_input_is_a_tool_error_and_the_store_is_unchanged(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("the one memory", tags=["keep"])
        before = list(mem.iter())

    async def go():
        async with session(store_path) as client:
            results = [await client.call_tool(name, args) for name, args, _ in BAD_CALLS]
            alive = await client.call_tool("stats", {})
            return results, alive
    results, alive = run(go)
    for (name, args, words), result in zip(BAD_CALLS, results):
        assert result.is_error, (name, args)
        assert words in result.content[0].text, (name, args, result.content[0].text)
    assert alive.structured_content["memories"] == 1           # the server survived every one
    with memento.open(store_path, tier="minimal") as mem:
        assert list(mem.iter()) == before


@pytest.mark.slow
def test_three_servers_write_to_one_store_at_once(store_path):
    per_client = 40
    # The store exists before the servers start: three processes creating one file at the same
    # instant is the store-creation race (handled in opening.py and schema.py, tested there).
    memento.open(store_path, tier="minimal").close()

    async def client_writes(name, ids):
        async with session(store_path) as client:
            for i in range(per_client):
                result = await client.call_tool("remember", {"text": f"{name} note {i}", "tags": [name]})
                assert not result.is_error, result.content[0].text
                ids.append(result.structured_content["id"])

    async def go():
        ids = {name: [] for name in ("ada", "bea", "cy")}
        async with anyio.create_task_group() as group:
            for name, sink in ids.items():
                group.start_soon(client_writes, name, sink)
        return ids
    ids = run(go)
    every_id = [i for sink in ids.values() for i in sink]
    assert len(every_id) == len(set(every_id)) == 3 * per_client
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.count() == 3 * per_client
        for name in ids:
            expected = sorted(f"{name} note {i}" for i in range(per_client))
            assert sorted(m.text for m in mem.iter(tags=[name])) == expected


@pytest.mark.vector
def test_full_tier_through_the_sdk(store_path):
    require_tier("full")

    async def go():
        async with session(store_path, "full") as client:
            await client.call_tool("remember", {"text": "Alice switched from coffee to green tea"})
            await client.call_tool("remember", {"text": "The office moved to the fourth floor"})
            hybrid = await client.call_tool("recall", {"query": "beverage preferences", "k": 2})
            vector = await client.call_tool("recall", {"query": "what does she like to drink", "mode": "vector",
                                                       "k": 1})
            stats = await client.call_tool("stats", {})
            return hybrid, vector, stats
    hybrid, vector, stats = run(go)
    assert hybrid.structured_content["results"][0]["text"].startswith("Alice")
    assert vector.structured_content["results"][0]["text"].startswith("Alice")
    assert stats.structured_content["tier"] == "full" and stats.structured_content["model"]


def test_threads_through_the_sdk(store_path):
    """remember takes a thread; recall finds a reply through the turn before it and filters by thread."""
    async def go():
        async with session(store_path) as client:
            turns = ["Caroline: I went to a pottery workshop on Saturday", "Melanie: Yeah, it was great fun!"]
            made = [await client.call_tool("remember", {"text": t, "thread": "chat-1",
                                                        "created_at": f"2026-01-0{i + 1}"})
                    for i, t in enumerate(turns)]
            await client.call_tool("remember", {"text": "Pottery shop opening hours", "thread": "notes"})
            found = await client.call_tool("recall", {"query": "pottery workshop", "thread": "chat-1", "k": 5})
            bad = await client.call_tool("remember", {"text": "x", "thread": ""})
            return made, found, bad
    made, found, bad = run(go)
    assert [m.structured_content["thread"] for m in made] == ["chat-1", "chat-1"]
    hits = found.structured_content["results"]
    assert {h["id"] for h in hits} == {m.structured_content["id"] for m in made}   # the reply too; not "notes"
    assert all(h["thread"] == "chat-1" for h in hits)
    assert bad.is_error and "thread" in bad.content[0].text
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.count() == 3


def test_memory_over_months_through_the_sdk(store_path):
    """A repeat is reported as already remembered; a superseded fact leaves recall; bad numbers are errors."""
    async def go():
        async with session(store_path) as client:
            old = await client.call_tool("remember", {"text": "Alice lives in Berlin"})
            again = await client.call_tool("remember", {"text": "Alice  lives in Berlin", "tags": ["home"]})
            new = await client.call_tool("remember", {"text": "Alice moved to Lisbon",
                                                      "supersedes": old.structured_content["id"]})
            found = await client.call_tool("recall", {"query": "where does Alice live Berlin Lisbon"})
            everything = await client.call_tool("recall", {"query": "Alice Berlin", "include_superseded": True})
            bad = await client.call_tool("recall", {"query": "Alice", "half_life_days": 0})
            return old, again, new, found, everything, bad
    old, again, new, found, everything, bad = run(go)
    old_id = old.structured_content["id"]
    assert again.structured_content["duplicate_of"] == old_id and again.structured_content["id"] == old_id
    assert f"Already remembered as {old_id}" in again.content[0].text
    assert [h["id"] for h in found.structured_content["results"]] == [new.structured_content["id"]]
    assert old_id in [h["id"] for h in everything.structured_content["results"]]
    assert bad.is_error
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.count(include_superseded=True) == 2 and mem.get(old_id).superseded_by == new.structured_content["id"]
