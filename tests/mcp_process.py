"""A `memento mcp` child process driven with raw JSON lines (our own client, for the protocol's edges)."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent

INITIALIZE = {"protocolVersion": "2025-06-18", "capabilities": {},
              "clientInfo": {"name": "memento-tests", "version": "0"}}


def server_command(db: Path, tier: str = "minimal") -> List[str]:
    return [sys.executable, "-m", "memento", "mcp", "--db", str(db), "--tier", tier]


def server_env(**extra: str) -> Dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("MEMENTO_TIER", None)
    return env


class McpProcess:
    """stdout is read by a thread into a queue, so a test can wait with a timeout for each line."""

    def __init__(self, db: Path, tier: str = "minimal", **env: str):
        self.proc = subprocess.Popen(server_command(db, tier), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=server_env(**env))
        self.lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.next_id = 0

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def request(self, method: str, params: Optional[dict] = None, timeout: float = 120) -> Dict[str, Any]:
        self.next_id += 1
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        response = self.receive(timeout)
        assert response.get("id") == self.next_id, response
        return response

    def receive(self, timeout: float = 120) -> Dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"server closed stdout; stderr: {self.stderr()}"
        assert line.endswith(b"\n")
        return json.loads(line)

    def initialize(self, **params: Any) -> Dict[str, Any]:
        response = self.request("initialize", {**INITIALIZE, **params})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return response["result"]

    def call(self, name: str, arguments: Optional[dict] = None) -> Dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments or {}})["result"]

    def close_stdin_and_wait(self, timeout: float = 60) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
