"""The Buildkite build program: config, payload, durable spool, detached delivery, CLI.

On every fetch and push only ``trigger`` and ``config`` load (hot-path modules); a push
with a build to queue also loads ``payload`` and ``spool`` (``git show``, ``json``);
``deliver`` (requests) runs in its own detached process. See docs/buildkite.md.
"""
