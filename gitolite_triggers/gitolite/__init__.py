"""The ``gitolite`` command: gitolite's own CLI, for the scripts integrators wrote against it.

One module per group of sub-commands (``main.py`` dispatches); each reuses the library
(the rules API, the rc, the ssh commands) rather than re-implementing it.
"""
