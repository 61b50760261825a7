"""Fault-injection suite: disk full, kill -9 and races around the admin push (docs/reliability.md)."""
