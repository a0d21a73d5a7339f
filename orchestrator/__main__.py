"""``python -m orchestrator`` is the ``simtune`` command (started from a model's folder, too)."""

import sys

from simtune_core.userimport import demote_cwd

demote_cwd()  # a targets.py in the working directory must not hide simtune's package

from orchestrator.cli import main  # noqa: E402 - after the sys.path fix above

sys.exit(main())
