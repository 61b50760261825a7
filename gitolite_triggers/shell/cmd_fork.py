"""``fork FROM TO``: a new wild repo TO, a copy of FROM (gitolite's ``fork``).

gitolite's rights: read access to FROM, the ``C`` right for TO (which must not exist). The
copy is ``git clone --bare -l`` (hard links, no network) into a hidden name renamed into
place, with our hooks, ``gl-creator`` (the user) and ``gl-forked-from`` (FROM); then
POST_CREATE fires with ``TO user fork``, as gitolite's does (and no PRE_CREATE, as in
gitolite). Messages are gitolite's, on stderr without ``FATAL:``, exit 1. git's
"Cloning into bare repository '/abs/TO.git'..." line is shown with TO's final path (git's
own names the hidden temp folder), as a created repo's "Initialized empty..." line is; git's
warnings are shown, any other line of git's is not.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers.shell.cmdlib import Quit, allowed, can_read, need_user, repo_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

USAGE = """\
Usage:    ssh git@host fork <repo1> <repo2>

Fork (clone) repo1 into a new repo2: you need read access to repo1 and the
right to create repo2.
"""


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if len(args) < 2 or args[0] == "-h":
        sys.stdout.write(USAGE)
        return 1
    user = need_user(user)
    source, to = args[0], args[1]
    src = repo_dir(rc, source) if can_read(rc, source, user) else None
    if src is None:
        raise Quit(f"'{source}' does not exist or you are not allowed to read it")
    if repo_dir(rc, to) is not None or not allowed(rc, to, user, "^C"):
        raise Quit(f"'{to}' already exists or you are not allowed to create it")
    _clone(rc, src, to, user, source)
    print(f"{source} forked to {to}", file=sys.stderr)
    from gitolite_triggers.runner import Options, fire

    return fire(rc, "POST_CREATE", to, user, "fork", opts=Options(stdout_to_stderr=True))


def _clone(rc: Rc, src: str, to: str, user: str, source: str) -> None:
    import shutil
    import subprocess

    from gitolite_triggers.repos import inside_repo_base, install_hooks, repo_path
    from gitolite_triggers.shell.create import write_creator

    target = repo_path(rc, to)
    if not inside_repo_base(rc, target):  # a symlinked folder in the base leads elsewhere
        raise Quit(f"'{to}' already exists or you are not allowed to create it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.forking-{os.getpid()}"
    try:
        done = subprocess.run(
            ["git", "clone", "--bare", "-l", "--", src, str(tmp)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        if done.returncode != 0:
            raise Quit(f"fork of '{source}' failed", 1)
        print(f"Cloning into bare repository '{target}'...", file=sys.stderr)
        for line in done.stderr.splitlines():  # git's warnings, never a line naming a path
            if line.startswith("warning: ") and rc.repo_base not in line and "/" not in line:
                print(line, file=sys.stderr)
        install_hooks(rc, tmp)
        write_creator(tmp, user, newline=True)
        (tmp / "gl-forked-from").write_text(source + "\n")
        try:
            os.rename(tmp, target)  # fails if TO appeared meanwhile: nothing is overwritten
        except OSError:
            raise Quit(f"'{to}' already exists or you are not allowed to create it") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
