"""`memento mcp`: the Model Context Protocol server (server.py), its tools (tools.py) and their
argument checks (arguments.py). Standard library only; the store loads on the first tool call."""
