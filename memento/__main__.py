"""`python -m memento ...` runs the `memento` command (any subcommand, `mcp` included)."""
import sys

from .cli import main

sys.exit(main())
