"""The ssh forced command (``gitolite-triggers shell USER``): SOC parsing, the session, commands.

Everything under this package is on the hot path of every fetch and push: it must not
import PyYAML, jsonschema or requests (tests/test_shell_speed.py proves it).
"""
