"""``python -m gitolite_triggers`` is the same as the ``gitolite-triggers`` script."""

from gitolite_triggers.cli import main

raise SystemExit(main())
