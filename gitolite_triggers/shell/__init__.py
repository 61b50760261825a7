"""The ssh forced command (``gitolite-triggers shell USER``): SOC parsing, the session, commands.

On the hot path (docs/architecture.md); ``create`` is loaded only when a wild repo is created.
"""
