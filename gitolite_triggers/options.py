"""Per-repo ``option`` values from the compiled rules, as triggers and the buildkite program need them.

The compiled-rules issue owns the storage; this module is the narrow, fast read path
the runner uses for ``GL_OPTION_*`` (gitolite's env_options) without loading the rules.
"""

from __future__ import annotations

from gitolite_triggers.rc import Rc


def repo_options(rc: Rc, repo: str) -> dict[str, str]:
    """Every ``option X = Y`` that applies to ``repo`` (later lines win), as {X: Y}.

    Empty until the rules have been compiled (gitolite: a no-op before the first compile).
    """
    try:
        from gitolite_triggers.conf.query import options_for  # provided by the rules compiler
    except ImportError:
        return {}
    return options_for(rc, repo)


def env_options(rc: Rc, repo: str) -> dict[str, str]:
    """``option ENV.NAME = v`` lines become ``GL_OPTION_NAME=v`` for trigger programs."""
    return {
        f"GL_OPTION_{k[4:]}": v for k, v in repo_options(rc, repo).items() if k.startswith("ENV.")
    }
