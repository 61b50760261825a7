"""Helpers shared by the test modules (sandboxed server accounts, sshd, CLI runners)."""
