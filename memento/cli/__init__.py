"""The `memento` command's entry point: `memento mcp` goes straight to the MCP server, which imports
only what its handshake needs; every other command goes to commands.py. Nothing else is imported
here, so `memento mcp` answers its handshake without loading argparse or the store."""
from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mcp"]:
        from ..mcp import server
        return server.command(args[1:])
    from .commands import main as run_command
    return run_command(args)
