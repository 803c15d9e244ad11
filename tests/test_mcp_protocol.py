"""`memento mcp` driven with raw JSON lines through a real child process: the protocol's edges
(parse errors, unknown methods, bad params, batches, version negotiation, EOF, signals) that a
well-behaved SDK client never sends."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

import memento

from .conftest import require_tier
from .mcp_process import REPO, McpProcess

pytestmark = pytest.mark.spawns_python


@pytest.fixture
def server(store_path):
    proc = McpProcess(store_path)
    yield proc
    proc.kill()


def test_initialize_answers_before_the_store_is_opened(server, store_path):
    result = server.initialize()
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "memento"
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert "recall" in result["instructions"] and "remember" in result["instructions"]
    tools = server.request("tools/list")["result"]["tools"]
    assert {t["name"] for t in tools} == {"remember", "recall", "get", "update", "forget", "list", "stats"}
    assert server.request("ping")["result"] == {}
    # The handshake and the tool list never touched the store: it is opened by the first tool call.
    assert not store_path.exists()
    assert server.call("stats")["structuredContent"]["memories"] == 0
    assert store_path.exists()


@pytest.mark.parametrize("asked, answered", [
    ("2024-11-05", "2024-11-05"), ("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"),
    ("2025-11-25", "2025-11-25"), ("2099-01-01", "2025-11-25"),
])
def test_version_negotiation(server, asked, answered):
    assert server.initialize(protocolVersion=asked)["protocolVersion"] == answered


def test_oldest_version_gets_text_only_results(server):
    server.initialize(protocolVersion="2024-11-05")
    tools = server.request("tools/list")["result"]["tools"]
    assert all("outputSchema" not in t and "annotations" not in t for t in tools)
    result = server.call("remember", {"text": "Old clients read text"})
    assert "structuredContent" not in result and "Old clients read text" in result["content"][0]["text"]


def test_unparseable_lines_get_parse_errors_and_the_session_goes_on(server):
    server.initialize()
    for bad in (b"not json\n", b"{\"jsonrpc\": \"2.0\", \n", b"\xff\xfe{}\n",
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":NaN}}\n",
                b"[" * 100_000 + b"\n"):
        server.send_raw(bad)
        response = server.receive()
        assert response["error"]["code"] == -32700 and response["id"] is None, bad[:30]
    assert server.request("ping")["result"] == {}


def test_a_line_over_the_size_limit_is_refused_and_skipped(server):
    from memento.mcp.server import MAX_LINE_BYTES
    server.initialize()
    server.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"ping","params":{"pad":"' + b"x" * MAX_LINE_BYTES + b'"}}\n')
    response = server.receive()
    assert response["error"]["code"] == -32700 and "longer than" in response["error"]["message"]
    assert server.request("ping")["result"] == {}


def test_unknown_method_and_notifications(server):
    server.initialize()
    response = server.request("resources/list")
    assert response["error"]["code"] == -32601 and "resources/list" in response["error"]["message"]
    # Notifications are never answered, known or not: the next line out is the ping's answer.
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
    server.send({"jsonrpc": "2.0", "method": "notifications/whatever"})
    assert server.request("ping")["result"] == {}


@pytest.mark.parametrize("method, params, words", [
    ("tools/call", {"arguments": {}}, "needs name"),
    ("tools/call", {"name": "teleport", "arguments": {}}, "Unknown tool: teleport"),
    ("tools/call", [1, 2], "params must be a JSON object"),
    ("tools/call", {"name": "get", "arguments": [1]}, "arguments must be a JSON object"),
    ("initialize", {"capabilities": {}}, "protocolVersion"),
])
def test_bad_params_are_invalid_params(server, method, params, words):
    server.initialize()
    response = server.request(method, params)
    assert response["error"]["code"] == -32602 and words in response["error"]["message"]


def test_a_batch_gets_a_clear_error(server):
    server.initialize()
    server.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]\n')
    response = server.receive()
    assert response["error"]["code"] == -32600 and "batch" in response["error"]["message"]
    assert server.request("ping")["result"] == {}


@pytest.mark.parametrize("message", [
    {"jsonrpc": "1.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": True, "method": "ping"},
    {"jsonrpc": "2.0", "id": None, "method": "ping"}, {"jsonrpc": "2.0", "id": 3, "method": 5}, "ping", 12,
])
def test_invalid_requests(server, message):
    server.initialize()
    server.send(message)
    assert server.receive()["error"]["code"] == -32600


def test_a_tool_error_is_a_result_and_writes_nothing(server, store_path):
    server.initialize()
    kept = server.call("remember", {"text": "kept"})["structuredContent"]
    for name, arguments in [("remember", {"text": ""}), ("remember", {"text": "x", "tags": ["bad tag!"]}),
                            ("remember", {"text": "x", "created_at": "yesterday-ish"}),
                            ("remember", {"text": "x", "surprise": 1}), ("update", {"id": 999, "text": "y"}),
                            ("update", {"id": kept["id"], "text": "  "}), ("forget", {"id": 999}),
                            ("recall", {"query": "x", "k": 0}), ("get", {"id": 2 ** 70})]:
        result = server.call(name, arguments)
        assert result["isError"] is True and result["content"][0]["type"] == "text", (name, arguments)
        assert "Error" in result["content"][0]["text"]
    assert server.close_stdin_and_wait() == 0
    with memento.open(store_path, tier="minimal") as mem:
        assert [(m.id, m.text, m.updated_at) for m in mem.iter()] == [(kept["id"], "kept", kept["updated_at"])]


def test_stdout_carries_protocol_only(store_path, tmp_path):
    # Code in the server process that prints (here at exit, through print() and straight to fd 1)
    # lands on stderr: the client's stdout sees JSON-RPC lines only.
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    (noisy / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "atexit.register(lambda: (print('NOISE print'), os.write(1, b'NOISE fd1\\n')))\n")
    proc = McpProcess(store_path, PYTHONPATH=f"{noisy}:{REPO}")
    try:
        proc.initialize()
        proc.request("tools/list")
        assert proc.call("stats")["structuredContent"]["memories"] == 0
        assert proc.close_stdin_and_wait() == 0
        assert proc.lines.get(timeout=30) is None          # nothing after the last response
        err = proc.stderr()
        assert "NOISE print" in err and "NOISE fd1" in err  # the noise really happened
    finally:
        proc.kill()


def test_eof_closes_the_store_and_exits_zero(server, store_path):
    server.initialize()
    server.call("remember", {"text": "written before EOF"})
    assert server.close_stdin_and_wait() == 0
    # The last connection to a WAL store removes the -wal file on a clean close.
    assert not Path(str(store_path) + "-wal").exists()
    with memento.open(store_path, tier="minimal") as mem:
        assert [m.text for m in mem.iter()] == ["written before EOF"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_idle_exits_zero_and_closes(server, store_path, signum):
    server.initialize()
    server.call("remember", {"text": "before the signal"})
    server.proc.send_signal(signum)
    assert server.proc.wait(30) == 0
    assert not Path(str(store_path) + "-wal").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_writes_leaves_no_half_written_memory(server, store_path, signum):
    server.initialize()
    n = 300
    for i in range(n):
        server.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                     "params": {"name": "remember", "arguments": {"text": f"memory number {i}", "tags": ["burst"]}}})
    server.receive()                     # the first write is done: the signal lands mid-burst
    server.proc.send_signal(signum)
    assert server.proc.wait(30) == 0
    answered = 1
    while True:
        line = server.lines.get(timeout=30)
        if line is None:
            break
        assert json.loads(line)["result"]["isError"] is False
        answered += 1
    assert answered < n, "the signal came too late to test anything"
    with memento.open(store_path, tier="minimal") as mem:
        texts = [m.text for m in mem.iter()]
        assert all(c.ok for c in mem.doctor())
    # Every request answered was written, whole; nothing unanswered was.
    assert texts == [f"memory number {i}" for i in range(answered)]


@pytest.mark.vector
def test_full_tier_initialize_does_not_load_the_model(store_path):
    require_tier("full")
    proc = McpProcess(store_path, tier="full")
    try:
        proc.initialize()
        proc.request("tools/list")
        maps = Path(f"/proc/{proc.proc.pid}/maps").read_text()
        assert "onnxruntime" not in maps and "vec0" not in maps
        proc.call("remember", {"text": "Alice switched from coffee to green tea"})
        hits = proc.call("recall", {"query": "what does Alice drink?"})["structuredContent"]["results"]
        assert hits and hits[0]["text"].startswith("Alice")
        assert "onnxruntime" in Path(f"/proc/{proc.proc.pid}/maps").read_text()
        assert proc.close_stdin_and_wait() == 0
        assert "includes loading the" in proc.stderr()
    finally:
        proc.kill()
