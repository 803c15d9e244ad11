"""The `memento` command's entry point: `memento mcp` goes straight to the MCP server, which imports
only what its handshake needs; every other command goes to cli.py."""
from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mcp"]:
        from . import mcp
        return mcp.command(args[1:])
    from .cli import main as cli_main
    return cli_main(args)
