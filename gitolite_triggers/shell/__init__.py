"""The ssh forced command (``gitolite-triggers shell USER``): SOC parsing, the session, commands.

Everything under this package is on the hot path (docs/architecture.md).
"""
