"""Plumbing shared by the POST_COMPILE programs: their argv and warnings (atomic writes: atomicfile.py).

Argument convention (docs/triggers.md): rc args, then the trigger name, then the
trigger's own args. Under POST_COMPILE there are none; under POST_CREATE they are
``repo user`` and a program must touch only that repo.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

TRIGGER_SHAPE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass
class Call:
    """How a program was called: its rc args, the trigger name, and the trigger's args."""

    rc_args: list[str] = field(default_factory=list)
    trigger: str = ""
    args: list[str] = field(default_factory=list)

    @property
    def only_repo(self) -> str | None:
        """The one repo to update (POST_CREATE and friends), or None for "every repo"."""
        if self.trigger and self.trigger != "POST_COMPILE" and self.args:
            return self.args[0]
        return None

    def repos(self, rc: Rc) -> list[str]:
        """The repos this call updates: ``only_repo``, or every repo on disk."""
        if self.only_repo:
            return [self.only_repo]
        from gitolite_triggers.repos import physical_repos

        return physical_repos(rc)


def parse_call(argv: list[str]) -> Call:
    """Split argv at the first upper-case word (the trigger name); none means by hand."""
    for i, word in enumerate(argv):
        if TRIGGER_SHAPE.match(word):
            return Call(list(argv[:i]), word, list(argv[i + 1 :]))
    return Call(list(argv), "", [])


def guarded(program: str, body: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a program's body: a refusal (``Fatal``) or an OS error (unwritable list, vanished
    repo) is one ``FATAL: <program>: ...`` line and one ``die`` record (guard.refuse, the
    process's one reporter), not a traceback. A program's top: it runs in-process under the
    runner, or as a script, and either way ends with an exit status."""
    from gitolite_triggers.errors import Fatal, RcError
    from gitolite_triggers.guard import refuse

    try:
        return body(argv)
    except RcError as e:  # as it is: refuse() shows a client only the generic line
        return refuse(e)
    except Fatal as e:
        return refuse(Fatal(f"{program}: {e.message}", e.status))
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        return refuse(Fatal(f"{program}:{where}: {e.strerror or e}"))


def on_base(rc: Rc, repo_base: str) -> Rc:
    """The same rc with another GL_REPO_BASE: an admin push asks the staged rules about the
    repos it is creating in its staging folder (a plain repo's rules count only while the
    repo exists, so the live base would say "no access" for them)."""
    from gitolite_triggers.rc import Rc as _Rc

    doc = dict(rc.doc)
    doc["settings"] = {**rc.settings, "GL_REPO_BASE": repo_base}
    return _Rc(doc)


def warn(program: str, text: str) -> None:
    print(f"WARNING: {program}: {text}", file=sys.stderr)
