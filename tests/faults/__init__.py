"""Fault injection: disk full, kills, races, corruption (issue 15)."""
