"""``python -m orchestrator`` is the ``simtune`` command."""

import sys

from orchestrator.cli import main

sys.exit(main())
