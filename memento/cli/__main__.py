"""`python -m memento.cli ...` runs the `memento` command, like `python -m memento`."""
import sys

from . import main

sys.exit(main())
