"""``compile_rules``: compile the conf, report a conf error, fire POST_COMPILE, in one place.

``compile``, ``setup`` and the admin push all compile the rules the same way and differ
only in what they say when the conf is wrong and what they do once it compiled: a conf
error becomes the caller's ``Fatal`` (built from the conf's ``file:line: message`` lines;
the last good compiled rules stay in force, since the compiler never replaces them on
error), warnings are printed as ``WARNING:`` lines, then the caller's own step (record the
last good commit, re-link hooks...) and POST_COMPILE. ``compile`` alone does not fire it,
as in gitolite.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from gitolite_triggers.conf.compile import CompileReport
    from gitolite_triggers.errors import Fatal
    from gitolite_triggers.rc import Rc


def compile_rules(
    rc: Rc,
    failed: Callable[[str], Fatal],
    *,
    post_compile: bool = True,
    on_compiled: Callable[[CompileReport], None] | None = None,
    any_error: bool = False,
) -> tuple[CompileReport, int]:
    """Compile; return (the report, POST_COMPILE's status, 0 when not fired).

    On a conf error raise ``failed(problem)`` (``problem`` is the ConfError's lines); with
    ``any_error`` an unexpected compile error is reported the same way, as ``compile
    failed: <error>`` (the admin push: the pusher gets a message, never a traceback).
    """
    from gitolite_triggers.conf.compile import compile_conf
    from gitolite_triggers.conf.errors import ConfError

    try:
        report = compile_conf(rc)
    except ConfError as e:
        raise failed(str(e)) from None
    except Exception as e:
        if not any_error:
            raise
        raise failed(f"compile failed: {e}") from None
    for w in report.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    if report.created:  # git's own words, as gitolite passes them on (an admin push: remote:)
        from gitolite_triggers.repos import initialized_line, repo_path

        for name in report.created:
            print(initialized_line(repo_path(rc, name)), file=sys.stderr)
    if on_compiled is not None:
        on_compiled(report)
    if not post_compile:
        return report, 0
    from gitolite_triggers.runner import Options, fire

    return report, fire(rc, "POST_COMPILE", opts=Options())
