"""``create REPO``: create a wild repo without pushing to it (gitolite's ``create``).

The user needs the ``C`` right for REPO (``access(REPO, user, ^C, any)``); an existing repo
or a missing right gets gitolite's one message, so the answer does not tell which. The
repo is made as a push would make it (shell/create.py: PRE_CREATE, ``git init --bare``
with our hooks, gl-creator, POST_CREATE) and logged as ``create REPO user create``.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import Fatal
from gitolite_triggers.shell.cmdlib import allowed, need_user, repo_dir, valid_repo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:    ssh git@host create <repo>

Create a wild repo (one matching a pattern you have the C right for) without
pushing to it.
"""


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if len(args) != 1 or args[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    repo = valid_repo(args[0])
    if repo_dir(rc, repo) is not None or not allowed(rc, repo, user, "^C"):
        raise Fatal("repo already exists or you are not authorised to create it")
    from gitolite_triggers import glog
    from gitolite_triggers.runner import Options
    from gitolite_triggers.shell.create import create_wild_repo

    status, created = create_wild_repo(rc, repo, user, Options(stdout_to_stderr=True))
    if created:
        glog.log(rc, "create", repo, user, "create")
    return status
