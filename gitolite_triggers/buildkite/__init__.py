"""The Buildkite build program: config, payload, durable spool, detached delivery, CLI.

Only ``config``, ``spool`` and ``trigger`` run on the push path, and they import nothing
heavier than ``json``; ``deliver`` (requests) runs in its own detached process.
See docs/buildkite.md.
"""
