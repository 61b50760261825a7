"""What every repo hook runs: ``main(hook, argv) -> exit status``.

Each repo's ``hooks/{pre-receive,update,post-receive,post-update}`` is a symlink to a stub
in ``$GL_ADMIN_BASE/hooks/common/`` (repos.py) that calls ``main``. It runs inside
``git receive-pack``, so git's quarantine environment (GIT_DIR, GIT_OBJECT_DIRECTORY,
GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_QUARANTINE_PATH) is inherited untouched: the git
commands we run here see the pushed, not yet accepted, objects.

- ``update``: gitolite's check (2). Per ref, the perm letter (W + C D, M appended) is
  computed as gitolite does (docs/shell.md), ``access()`` is asked, ACCESS_CHECK (5 args,
  full refname) and ACCESS_2 (7 args, v3's) fire, also on denial, and a denied ref is
  rejected with the result on stderr (the pusher sees ``remote: FATAL: ...``). Then the
  rc's ``hooks: update`` programs run with git's arguments.
- ``pre-receive``/``post-receive``: the rc's lists, each program fed git's stdin whole;
  post-receive first records the push's updates (pushrecord.py) for POST_GIT programs.
- ``pre-receive`` on gitolite-admin also stages the push (``adminpush.prepare``: refused
  whole, or staged); ``post-update`` makes it live (``adminpush.post_update(rc, refs)``);
  then the list.

A push that did not come through ``gitolite-triggers shell`` (no ``GL_USER``, e.g. a
local push on the server) is refused in pre-receive and update, naming the bypass: an
admin sets ``GL_BYPASS_ACCESS_CHECKS=1`` for such a push; it is logged as a bypass
``update`` line and allowed (gitolite's answer, as in ``gitolite push``).

Errors are messages, never tracebacks: the pusher sees them on their terminal. A refusal
raises ``errors.Fatal``; ``guard.guarded`` prints it (``FATAL: ...``) and logs one ``die``
line. What else escapes a hook (a broken rc, an unexpected error) it reports as a generic
line with the session id (the detail goes to the log). The umask is 0077 until
the rc's UMASK is known. Locations come from HOME and the rc only: the hooks run in the
environment the forced command cleaned (shell/wrapper.py), plus git's own GIT_* variables.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers import glog
from gitolite_triggers.errors import Fatal, fatal_lines
from gitolite_triggers.guard import refuse
from gitolite_triggers.rc import SAFE_UMASK, Rc, load_rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.refupdate import RefUpdate

BYPASS_VAR = "GL_BYPASS_ACCESS_CHECKS"
NOT_THROUGH_SHELL = (
    "this push did not come through `gitolite-triggers shell` (GL_USER is not set), "
    f"so there is no user to check access for; refusing it. An admin pushing locally on the "
    f"server sets {BYPASS_VAR}=1 to skip the access checks (logged as a bypass)."
)


def main(hook: str, argv: list[str]) -> int:
    """Run hook ``hook`` with git's arguments ``argv``; return the hook's exit status."""
    os.umask(SAFE_UMASK)
    from gitolite_triggers.guard import guarded

    return guarded(lambda: _run(hook, argv), client=True)


def _run(hook: str, argv: list[str]) -> int:
    rc = load_rc()
    rc.apply_process_settings()
    handler = HANDLERS.get(hook)
    if handler is None:
        raise Fatal(f"gitolite-triggers has no '{hook}' hook")
    return handler(rc, argv)


# ---------------------------------------------------------------- who and where


def _bypass() -> bool:
    return os.environ.get(BYPASS_VAR, "") not in ("", "0")


def _repo_from_path(rc: Rc) -> str | None:
    """For a bypass push: the repo name from the repo directory git runs the hook in."""
    git_dir = os.path.realpath(os.environ.get("GIT_DIR") or ".")
    base = os.path.realpath(rc.repo_base)
    if not git_dir.startswith(base + os.sep):
        return None
    name = git_dir[len(base) + 1 :]
    return name[:-4] if name.endswith(".git") else name


def _who(rc: Rc) -> tuple[str | None, str | None]:
    """(repo, user) from the wrapper's GL_REPO/GL_USER (repo from the path under bypass)."""
    user = os.environ.get("GL_USER") or None
    repo = os.environ.get("GL_REPO") or None
    if repo is None and (user is None or _bypass()):
        repo = _repo_from_path(rc)
    return repo, user


def _unix_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _unknown_pusher(hook: str) -> Fatal:
    why = f"{hook}: push refused: not through gitolite-triggers shell (no GL_USER)"
    return Fatal(NOT_THROUGH_SHELL, log=(why, os.getcwd()))


# ---------------------------------------------------------------- the perm letter


def _git(*args: str) -> str:
    """Run a read-only git command in the hook's repo (quarantine env inherited)."""
    import subprocess

    proc = subprocess.run(  # argv list
        ["git", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _truthy(value: str | None) -> bool:
    return value not in (None, "", "0")


def perm_letter(ref: str, old: str, new: str, options: dict[str, str]) -> str:
    """gitolite's attempted access for one ref update (Hooks/Update.pm; docs/shell.md).

    W by default; ``+`` for a tag overwrite or whenever old is not the merge base of
    old and new (a rewind, and also a delete); ``D`` for a delete and ``C`` for a create
    when the repo's rules use them (options DELETE_IS_D / CREATE_IS_C); ``M`` appended
    for a merge commit in old..new when the repo has MERGE_CHECK.
    """
    zero = "0" * len(old)
    merge_base = zero if zero in (old, new) else _git("merge-base", old, new)
    aa = "W"
    if ref.startswith("refs/tags/") and old != zero:
        aa = "+"
    if old != merge_base:
        aa = "+"
    if _truthy(options.get("DELETE_IS_D")) and new == zero:
        aa = "D"
    if _truthy(options.get("CREATE_IS_C")) and old == zero:
        aa = "C"
    if _truthy(options.get("MERGE_CHECK")):
        if zero in (old, new):
            print(
                f"WARNING: ref create/delete ignored for purposes of merge-check ({ref})",
                file=sys.stderr,
            )
        elif _git("rev-list", "-n", "1", "--merges", f"{old}..{new}"):
            aa += "M"
    return aa


# ---------------------------------------------------------------- the hooks


def _fire_list(
    rc: Rc,
    hook: str,
    args: list[str],
    repo: str | None,
    user: str | None,
    stdin: bytes | None = None,
) -> int:
    entries = rc.hook_list(hook)
    if not entries:
        return 0
    from gitolite_triggers.runner import Options, fire_entries

    opts = Options(stdin_data=stdin if stdin is not None else b"")
    return fire_entries(
        rc, hook, entries, args, opts=opts, repo=repo, user=user, name_in_argv=False
    )


def update(rc: Rc, argv: list[str]) -> int:
    """Check (2) for one ref: ``update REF OLD NEW``."""
    if len(argv) != 3:
        raise Fatal(f"update hook: expected REF OLD NEW, got {len(argv)} arguments")
    ref, old, new = argv
    repo, user = _who(rc)
    if _bypass():
        glog.log(rc, "update", os.getcwd(), f"({_unix_user()})", "bypass", ref, old, new)
        _admin_content(rc, repo, user, ref, new)
        return _fire_list(rc, "update", argv, repo, user)
    if user is None or repo is None:
        raise _unknown_pusher("update")
    from gitolite_triggers.names import is_ref, repo_name_problem

    problem = repo_name_problem(repo)
    if problem:  # the wrapper refuses these first; never touch a folder by another name
        msg = f"invalid repo name '{repo}': it {problem}"
        raise Fatal(msg, log=(repo, user, msg))
    _relink(rc, repo)
    if not is_ref(ref):
        msg = f"invalid characters in ref or filename: {ref!r}"  # gitolite's words
        raise Fatal(msg, log=(repo, user, msg))
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.query import access_vrefs, is_denied, options_for
    from gitolite_triggers.runner import fire

    aa = perm_letter(ref, old, new, options_for(rc, repo))
    try:
        result, vrefs = access_vrefs(rc, repo, user, aa, ref)
    except AccessError as e:  # e.g. a stored refex RE2 refuses: deny, say why (no internals)
        raise Fatal(str(e), log=(repo, user, str(e))) from None
    for name, args in (
        ("ACCESS_CHECK", (repo, user, aa, ref, result)),
        ("ACCESS_2", (repo, user, aa, ref, result, old, new)),
    ):
        status = fire(rc, name, *args, repo=repo, user=user)
        if status:
            raise Fatal(f"{name} trigger rejected {ref} (exit {status})", status)
    if is_denied(result):
        raise Fatal(result)
    _admin_content(rc, repo, user, ref, new)
    if vrefs:  # only now is the VREF machinery loaded (vref/check.py)
        from gitolite_triggers.vref.check import check_vrefs

        check_vrefs(rc, repo, user, ref, old, new, aa, vrefs)
    glog.log(rc, "update", repo, user, aa, ref, old, new, result)
    return _fire_list(rc, "update", argv, repo, user)


def _admin_content(
    rc: Rc, repo: str | None, user: str | None, ref: str, new: str, hook: str = "update"
) -> None:
    """gitolite-admin only: refuse a push that brings a private key into keydir/ or, on the
    checked-out branch, a symlink/submodule into conf/ or keydir/ (adminpush.pushed_problems).

    In pre-receive (always linked for gitolite-admin) a refused push leaves nothing in the
    repo: its objects are still in receive-pack's quarantine, which git drops. update
    checks again, for an admin repo whose pre-receive link is not there yet (git has
    moved the objects in by then, unreferenced: the next gc drops them). Messages name
    files, never content.
    """
    from gitolite_triggers.repos import ADMIN_REPO

    if repo != ADMIN_REPO:
        return
    from gitolite_triggers import adminpush

    try:
        problems = adminpush.pushed_problems(ref, new)
    except adminpush.AdminPushError as e:
        problems = [f"could not check the pushed files: {e}"]
    if not problems:
        return
    stored = (
        "nothing was stored on the server"
        if hook == "pre-receive"
        else "the ref was not updated (the pushed objects are unreferenced; git gc drops them)"
    )
    summary = (
        f"push of {ref} to {ADMIN_REPO} refused: {stored}, and the rules, keys and files "
        "in force are unchanged. Fix your commits (a private key must go from every commit: "
        "git rebase -i, or git reset and commit again) and push again."
    )
    why = f"admin push refused ({ref}): {problems[0]}"
    raise Fatal(fatal_lines(*problems, summary), log=(repo, user or "", why))


def _relink(rc: Rc, repo: str) -> None:
    """Bring this repo's hook links in line with the rc (pre-receive/post-update are only
    linked where the rc lists programs for them), so an rc edit reaches every repo by its
    next push even without ``setup --hooks-only``. A few stat calls; never fails a push."""
    from gitolite_triggers.repos import install_hooks, repo_dir

    try:
        install_hooks(rc, repo_dir(rc, repo))
    except OSError as e:
        glog.log(rc, "warn", f"could not re-link hooks of {repo}: {e}")


def _read_stdin() -> bytes:
    try:
        return sys.stdin.buffer.read()
    except (OSError, ValueError):
        return b""


def pre_receive(rc: Rc, argv: list[str]) -> int:
    data = _read_stdin()
    repo, user = _who(rc)
    if user is None and not _bypass():
        raise _unknown_pusher("pre-receive")
    from gitolite_triggers.repos import ADMIN_REPO

    if repo == ADMIN_REPO:
        updates = parse_updates(data)
        for _old, new, ref in updates:
            _admin_content(rc, repo, user, ref, new, hook="pre-receive")
        from gitolite_triggers import adminpush

        for _old, new, ref in updates:  # stage the new state, or refuse: adminpush.py
            adminpush.prepare(rc, ref, new)
    status = _fire_list(rc, "pre-receive", argv, repo, user, data)
    return status or _repo_specific(rc, "pre-receive", repo, user, argv, data)


def _repo_specific(
    rc: Rc, hook: str, repo: str | None, user: str | None, argv: list[str], data: bytes
) -> int:
    """The repo's ``option hook.<hook>`` programs (repohooks.py), after our own work."""
    if not rc.local_code:  # most sites: the module is not even loaded
        return 0
    from gitolite_triggers import repohooks

    if not repohooks.enabled(rc):
        return 0
    return repohooks.run(rc, hook, repo, user, argv, data)


def parse_updates(data: bytes) -> list[RefUpdate]:
    """git's receive-hook stdin (``old new refname`` per line)."""
    from gitolite_triggers.refupdate import parse

    return parse(data.decode("utf-8", "replace"))


def post_receive(rc: Rc, argv: list[str]) -> int:
    data = _read_stdin()
    repo, user = _who(rc)
    if repo is not None:
        from gitolite_triggers.hooks import pushrecord

        try:
            pushrecord.record(
                rc,
                os.environ.get("GL_TID", str(os.getpid())),
                repo,
                parse_updates(data),
                pushrecord.push_options(os.environ),  # for POST_GIT, which git gives none
            )
        except OSError as e:
            from gitolite_triggers.errors import session_ref

            # the pusher is told, but not the server's path that failed (the log has it)
            print(
                f"WARNING: could not record the push for POST_GIT (ref {session_ref()})",
                file=sys.stderr,
            )
            glog.log(rc, "warn", f"push record failed: {e}")
    status = _fire_list(rc, "post-receive", argv, repo, user, data)
    _repo_specific(rc, "post-receive", repo, user, argv, data)
    return status


def post_update(rc: Rc, argv: list[str]) -> int:
    repo, user = _who(rc)
    status = 0
    from gitolite_triggers.repos import ADMIN_REPO

    if repo == ADMIN_REPO:
        from gitolite_triggers import adminpush

        try:
            status = int(adminpush.post_update(rc, list(argv)) or 0)
        except Fatal as e:  # reported here: the rc's post-update list runs all the same
            status = refuse(e)
    listed = _fire_list(rc, "post-update", argv, repo, user)
    _repo_specific(rc, "post-update", repo, user, argv, b"")
    return status or listed


HANDLERS = {
    "update": update,
    "pre-receive": pre_receive,
    "post-receive": post_receive,
    "post-update": post_update,
}
