"""gitolite-triggers: a gitolite-style trigger system for self-hosted git servers.

Kept to ``__version__`` on purpose: every hot-path entry point imports it (docs/architecture.md).
"""

__version__ = "0.1.0"  # the one place: setup.cfg reads it (version = attr: ...)
