"""Memory over time: keeping a store in shape: update() sets, moves and clears an
expiry (API and MCP tool), and count()/stats() count what recall can return, with superseded and
expired memories counted apart. Real stores, minimal tier."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from memento.cli import main
from memento.errors import InvalidInputError, MemoryNotFoundError
from memento.mcp import arguments as mcp_arguments
from memento.mcp import tools as mcp_tools

from .test_expiry_and_superseding import FUTURE, PAST

# -- update(expires_at=...) --------------------------------------------------------------------------

def test_update_sets_moves_and_clears_an_expiry(mem):
    note = mem.remember("the parking spot is B12")
    assert mem.update(note.id, expires_at=FUTURE).expires_at == "2999-01-01T00:00:00.000Z"
    assert [h.id for h in mem.recall("parking spot")] == [note.id]
    expired = mem.update(note.id, expires_at=PAST)                      # expire it now, on purpose
    assert expired.expires_at == "2020-01-01T00:00:00.000Z" and expired.updated_at > note.updated_at
    assert mem.recall("parking spot") == [] and list(mem.iter()) == []
    assert mem.update(note.id, text="the parking spot is B14").expires_at == expired.expires_at  # None keeps it
    assert mem.update(note.id, expires_at="never").expires_at is None   # cleared: remembered for good
    assert [h.text for h in mem.recall("parking spot")] == ["the parking spot is B14"]
    moment = datetime(2998, 5, 1, 12, 30, tzinfo=timezone.utc)
    assert mem.update(note.id, expires_at=moment).expires_at == "2998-05-01T12:30:00.000Z"
    assert mem.get(note.id).expires_at == "2998-05-01T12:30:00.000Z"
    assert mem.remember("no expiry at all", expires_at="never").expires_at is None


@pytest.mark.parametrize("bad", ["next tuesday", "", 12, True, ["2030-01-01"], "2030-13-01"])
def test_update_refuses_a_bad_expiry_and_changes_nothing(mem, bad):
    note = mem.remember("keep me as I am", expires_at=FUTURE)
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.update(note.id, text="changed", expires_at=bad)
    assert mem.get(note.id) == note


def test_update_of_a_missing_memory_with_an_expiry_is_not_found(mem):
    with pytest.raises(MemoryNotFoundError):
        mem.update(41, expires_at=FUTURE)


def test_mcp_update_tool_sets_and_clears_an_expiry(mem):
    tool = mcp_tools.BY_NAME["update"]
    note = mem.remember("call the plumber back")
    out = tool.run(mem, mcp_arguments.check_arguments(tool.input_schema, {"id": note.id, "expires_at": PAST}))
    assert out["expires_at"] == "2020-01-01T00:00:00.000Z" and mem.recall("plumber") == []
    out = tool.run(mem, mcp_arguments.check_arguments(tool.input_schema, {"id": note.id, "expires_at": "never"}))
    assert out["expires_at"] is None and [h.id for h in mem.recall("plumber")] == [note.id]


# -- count() and stats() -------------------------------------------------------------------------------

def test_count_and_stats_count_what_recall_can_return(mem):
    mem.remember_many([f"current fact number {i}" for i in range(3)])
    old = mem.remember("an old fact about the kettle")
    mem.remember("a new fact about the kettle", supersedes=old.id)
    mem.remember("an expired scratch note", expires_at=PAST)
    both = mem.remember("an expired old fact", expires_at=PAST)
    mem.remember("its replacement", supersedes=both.id)
    # current: 3 + the kettle's new fact + the replacement; superseded: the old kettle fact;
    # expired: the scratch note and the old fact that is also superseded.
    assert mem.count() == 5 == len(mem.recall("fact kettle note replacement", k=50))
    assert mem.count(include_superseded=True) == 6 == len(list(mem.iter()))
    assert mem.count(include_expired=True) == 6
    assert mem.count(include_superseded=True, include_expired=True) == 8
    stats = mem.stats()
    assert (stats.memories, stats.superseded, stats.expired) == (5, 1, 2)
    mem.prune_expired()
    assert mem.count(include_superseded=True, include_expired=True) == 6 and mem.stats().expired == 0
    with pytest.raises(InvalidInputError, match="include_expired"):
        mem.count(include_expired="yes")


def test_cli_and_mcp_stats_show_current_superseded_and_expired(capsys, mem, store_path):
    mem.remember("kept")
    old = mem.remember("replaced")
    mem.remember("replacing", supersedes=old.id)
    mem.remember("gone", expires_at=PAST)
    assert main(["stats", "--json", "--db", str(store_path), "--tier", "minimal"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["memories"], stats["superseded"], stats["expired"]) == (2, 1, 1)
    assert main(["stats", "--db", str(store_path), "--tier", "minimal"]) == 0
    out = capsys.readouterr().out
    assert "memories: 2" in out and "superseded: 1" in out and "expired: 1" in out
    tool = mcp_tools.BY_NAME["stats"]
    result = tool.run(mem, {})
    assert (result["memories"], result["superseded"], result["expired"]) == (2, 1, 1)
    assert set(result) == set(tool.output_schema["properties"]) == set(tool.output_schema["required"])
