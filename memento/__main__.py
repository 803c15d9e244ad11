"""`python -m memento ...` runs the `memento` command (any subcommand, `mcp` included)."""
import sys

from .launch import main

sys.exit(main())
