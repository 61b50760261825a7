"""What a push to ``gitolite-admin`` does: check it out into $GL_ADMIN_BASE, compile, POST_COMPILE.

Called from the repo hooks' post-update (``gitolite_triggers.hooks.entry``, SHELL's)
as ``post_update(rc, refs)`` with git's post-update arguments (the updated refnames),
and only for the gitolite-admin repo. Everything printed goes to stderr, which git
relays to the pusher as ``remote:`` lines.

Steps (gitolite's PostUpdate.pm, made careful):

1. Nothing happens unless the pushed refs include the admin repo's HEAD branch.
2. A tree with a top-level ``hooks``, ``logs`` or ``bin`` entry is refused: those names in
   $GL_ADMIN_BASE are the server's own (hook stubs, logs, the ssh launcher), not the admin repo's.
3. The branch's tree replaces conf/, keydir/, local/ in $GL_ADMIN_BASE
   (``git read-tree -u --reset``: files deleted in the push disappear, the bare
   repo's HEAD is never touched).
4. Compile. On success: remember the commit as the last good one (``gl-last-good``
   in the admin repo's directory, where no push can write), re-link every repo's
   hooks if the push touched ``*/hooks/common/``, and fire POST_COMPILE.
5. On a conf error the pusher sees the error with file and line, and that the rules
   in force are unchanged. This is post-update, so the bad commit IS in the repo
   already (git accepted it before we run); what we can keep is the server's
   state: the compiled rules are the last good ones (compile never replaces them
   on error) and $GL_ADMIN_BASE is put back to the last good commit's files, so
   keydir/, conf/ and local/ on the server always match the rules in force.

Two admin pushes at once are serialised with a lock, and each compiles the branch's
tip as it is when it gets the lock, so the last push wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from gitolite_triggers import glog
from gitolite_triggers.errors import Fatal, fatal_lines
from gitolite_triggers.rc import Rc
from gitolite_triggers.repos import ADMIN_REPO, relink_all_hooks, repo_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.conf.compile import CompileReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.conf.compile import CompileReport

LAST_GOOD = "gl-last-good"
LOCK = "gl-admin-push.lock"
FORBIDDEN_TOP = ("hooks", "logs", "bin")
ADMIN_TREE = ("conf", "keydir", "local")  # always the admin repo's, whatever is on disk


class AdminPushError(Exception):
    """A push the server refuses to apply; the message is for the pusher."""


def _git_env(git_dir: Path, work_tree: str | None = None) -> dict[str, str]:
    # The hook inherits receive-pack's GIT_DIR/GIT_* environment: start clean.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_DIR"] = str(git_dir)
    if work_tree:
        env["GIT_WORK_TREE"] = work_tree
    return env


def _git(env: dict[str, str], *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args],
        env=env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AdminPushError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip() if proc.returncode == 0 else ""


def head_branch(env: dict[str, str]) -> str:
    """The admin repo's HEAD branch (gitolite >= 3.6.14; not a hard-coded master)."""
    ref = _git(env, "symbolic-ref", "-q", "HEAD", check=False)
    return ref or "refs/heads/master"


def last_good(git_dir: Path) -> str | None:
    try:
        value = (git_dir / LAST_GOOD).read_text().strip()
    except OSError:
        return None
    return value or None


def record_good(git_dir: Path, commit: str) -> None:
    """Remember the commit whose files are checked out and whose rules are compiled."""
    from gitolite_triggers.atomicfile import AS_OPEN, write_atomic

    write_atomic(git_dir / LAST_GOOD, (commit + "\n").encode(), AS_OPEN, fsync=False)


def check_tree(env: dict[str, str], wt_env: dict[str, str], base: Path, commit: str) -> None:
    """Refuse a tree that would be checked out over the server's own files in $GL_ADMIN_BASE,
    or that holds what the server must not read (tree_problems)."""
    problems = tree_problems(env, commit)
    if problems:
        raise AdminPushError("\n".join(problems))
    top = set(_git(env, "ls-tree", "--name-only", commit).splitlines())
    bad = [name for name in FORBIDDEN_TOP if name in top]
    if bad:
        raise AdminPushError(
            f"the pushed tree has a top-level '{bad[0]}'; {', '.join(FORBIDDEN_TOP)} are the server's own "
            "folders in $GL_ADMIN_BASE and cannot come from gitolite-admin (move it, e.g. under local/)"
        )
    # Anything else the server keeps there (buildkite/ spool, push-records/, ...) is
    # whatever exists in $GL_ADMIN_BASE without having come from the admin repo.
    tracked = {p.split("/", 1)[0] for p in _git(wt_env, "ls-files", "-z").split("\0") if p}
    for name in sorted(top - tracked - set(ADMIN_TREE)):
        if os.path.lexists(base / name):
            raise AdminPushError(
                f"the pushed tree has a top-level '{name}', but $GL_ADMIN_BASE/{name} is the server's own "
                "(it did not come from gitolite-admin); use another name"
            )
    # The compiled rules live in conf/ too: a pushed copy would be checked out over them.
    from gitolite_triggers.conf.store import STORE_NAME as store

    for path in _git(env, "ls-tree", "--name-only", commit, "--", "conf/").splitlines():
        name = path.removeprefix("conf/")
        if name.startswith((store, f".{store}", ".compile")):
            raise AdminPushError(
                f"the pushed tree has '{path}'; that name is the server's own (the compiled rules)"
            )


# Modes in a git tree: 100644/100755 a file, 040000 a folder (not listed by ls-tree -r),
# 120000 a symlink, 160000 a submodule (gitlink).
_FILE_MODES = ("100644", "100755")
_MODE_NAMES = {"120000": "a symlink", "160000": "a submodule (gitlink)"}
CHECKED_DIRS = ("conf", "keydir")  # read by the server: only plain files and folders
MAX_SCANNED_BLOB = 1024 * 1024  # keydir/ blobs looked at for private keys (keys are < 20 KB)


def _ls_tree(env: dict[str, str], commit: str) -> list[tuple[str, str, str]]:
    """(mode, object, path) of every non-folder entry of ``commit``'s tree."""
    out = []
    for item in _git(env, "ls-tree", "-r", "-z", "--full-tree", commit).split("\0"):
        meta, tab, path = item.partition("\t")
        if tab:
            mode, _type, obj = meta.split(" ")
            out.append((mode, obj, path))
    return out


def tree_problems(env: dict[str, str], commit: str) -> list[str]:
    """What in ``commit``'s tree the server must not check out and read, one message each.

    conf/ and keydir/ may hold only plain files and folders: a symlink there
    (``conf/leak.conf -> ~/.buildkite-token``, included from gitolite.conf) would make
    the compiler read a file outside the admin repo and echo its lines in an error.
    conf, keydir and local themselves must be folders. A private key anywhere in
    keydir/ is refused too (keyfile.py).
    """
    problems: list[str] = []
    keydir_blobs: list[tuple[str, str]] = []
    for mode, obj, path in _ls_tree(env, commit):
        top = path.split("/", 1)[0]
        if path in ADMIN_TREE:
            problems.append(
                f"'{_shown(path)}' is {_MODE_NAMES.get(mode, 'a file')}; it must be a folder"
            )
        elif top in CHECKED_DIRS and mode not in _FILE_MODES:
            what = _MODE_NAMES.get(mode, f"not a plain file (mode {mode})")
            problems.append(
                f"{_shown(path)}: {what}; {top}/ may hold only plain files and folders "
                "(the server reads nothing outside the admin repo)"
            )
        elif top == "keydir":
            keydir_blobs.append((obj, path))
    problems.extend(private_key_problems(env, keydir_blobs))
    return problems


def _shown(path: str) -> str:
    """A pushed path for a message: control characters escaped (a name can hold a newline)."""
    if path.isprintable():
        return path
    return path.encode("unicode_escape").decode("ascii")


def private_key_problems(env: dict[str, str], blobs: list[tuple[str, str]]) -> list[str]:
    """One message per blob (object, path) that holds a private key; the content is never shown."""
    from gitolite_triggers.keyfile import ADVICE, PRIVATE_KEY_MESSAGE, is_private_key

    if not blobs:
        return []
    # Sizes first, so a huge file is not read into memory for nothing.
    check = _git_bytes(env, ["cat-file", "--batch-check"], "".join(f"{o}\n" for o, _ in blobs))
    small = []
    for (obj, path), line in zip(
        blobs, check.decode("ascii", "replace").splitlines(), strict=False
    ):
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= MAX_SCANNED_BLOB:
            small.append((obj, path))
    if not small:
        return []
    data = _git_bytes(env, ["cat-file", "--batch"], "".join(f"{o}\n" for o, _ in small))
    found: list[str] = []
    at = 0
    for _obj, path in small:
        end = data.index(b"\n", at)
        size = int(data[at:end].split()[2])
        body = data[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
        if is_private_key(body):
            found.append(f"{_shown(path)}: {PRIVATE_KEY_MESSAGE} ({ADVICE})")
    return found


def _git_bytes(env: dict[str, str], args: list[str], stdin: str) -> bytes:
    proc = subprocess.run(["git", *args], env=env, input=stdin.encode(), capture_output=True)
    if proc.returncode != 0:
        raise AdminPushError(
            f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def pushed_problems(ref: str, new: str) -> list[str]:
    """What is wrong with a ref update pushed to gitolite-admin (its pre-receive and update hooks).

    Runs inside receive-pack with its environment (the pushed objects are visible; in
    pre-receive still in quarantine, so a refused push leaves nothing in the repo): a private
    key in keydir/ of ANY new commit on any ref (it would be in the repo's history for
    everyone who can clone it, even if a later commit removes it), and, on the branch
    that is checked out, a tree the server would not apply (tree_problems).
    """
    if set(new) == {"0"}:
        return []  # a delete brings nothing
    env = dict(os.environ)
    problems: list[str] = []
    if ref == head_branch(env):
        problems.extend(tree_problems(env, new))
    blobs = []
    for line in _git(env, "rev-list", "--objects", new, "--not", "--all").splitlines():
        obj, _, path = line.partition(" ")
        if path.startswith("keydir/"):
            blobs.append((obj, path))
    problems.extend(private_key_problems(env, _blobs_only(env, blobs)))
    return list(dict.fromkeys(problems))  # a new key at the tip is found by both scans


def _blobs_only(env: dict[str, str], objs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if not objs:
        return []
    check = _git_bytes(env, ["cat-file", "--batch-check"], "".join(f"{o}\n" for o, _ in objs))
    kinds = [ln.split()[1] if len(ln.split()) == 3 else "" for ln in check.decode().splitlines()]
    return [item for item, kind in zip(objs, kinds, strict=False) if kind == "blob"]


def checkout(env: dict[str, str], commit: str) -> None:
    """Make $GL_ADMIN_BASE's tracked files exactly ``commit``'s (HEAD untouched)."""
    _git(env, "read-tree", "-u", "--reset", commit)


def hooks_changed(env: dict[str, str], old: str | None, new: str) -> bool:
    if old is None:
        return True
    names = _git(env, "diff", "--name-only", old, new, check=False).splitlines()
    return any("/hooks/common/" in f"/{name}" for name in names)


def post_update(rc: Rc, refs: list[str]) -> int:
    """Apply a push to gitolite-admin; return 0 when the new rules are in force.

    ``refs`` are git's post-update arguments (the refnames the push updated). The
    return value is only logged by git (post-update cannot undo a push). A push that is
    not applied (a refused tree, a conf error) raises ``Fatal`` with the pusher's message
    and the ``die`` log line; the post-update hook reports it and goes on.
    """
    git_dir = repo_path(rc, ADMIN_REPO)
    env = _git_env(git_dir)
    branch = head_branch(env)
    if branch not in refs:
        return 0
    base = Path(rc.admin_base)
    base.mkdir(parents=True, exist_ok=True)
    with admin_lock(git_dir), _outside_receive_pack():
        return _apply(rc, git_dir, env, branch, base)


# receive-pack's view of the admin repo, which compile, repo creation and the
# POST_COMPILE programs must not inherit (a ``git`` they run would act on gitolite-admin).
_REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


@contextlib.contextmanager
def _outside_receive_pack() -> Iterator[None]:
    """Run in $HOME without the hook's GIT_DIR & co; put both back for the rest of the hook."""
    saved = {k: os.environ.pop(k) for k in _REPO_VARS if k in os.environ}
    cwd = os.getcwd()
    from gitolite_triggers.paths import home_dir

    try:
        os.chdir(home_dir())
        yield
    finally:
        os.chdir(cwd)
        os.environ.update(saved)


@contextlib.contextmanager
def admin_lock(git_dir: Path) -> Iterator[None]:
    """Serialise admin pushes and setup runs: checkout, compile and POST_COMPILE as one step."""
    with open(git_dir / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _apply(rc: Rc, git_dir: Path, env: dict[str, str], branch: str, base: Path) -> int:
    from gitolite_triggers.recompile import compile_rules

    wt_env = _git_env(git_dir, str(base))
    user = os.environ.get("GL_USER", "")
    good = last_good(git_dir)
    unchanged = (
        f"the rules in force are unchanged (still those of commit {good[:12]}); fix the conf and push again"
        if good
        else "the rules in force are unchanged; fix the conf and push again"
    )
    try:
        new = _git(env, "rev-parse", "--verify", f"{branch}^{{commit}}")
        if new == good:
            return 0
        check_tree(env, wt_env, base, new)
        checkout(wt_env, new)
    except AdminPushError as e:
        lines = str(e).splitlines() or [""]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise Fatal(
            fatal_lines(*lines, f"{ADMIN_REPO} was updated but not applied: {unchanged}"),
            log=(ADMIN_REPO, user, f"admin push not applied: {lines[0]}{more}"),
        ) from None

    def not_compiled(problem: str) -> Fatal:
        """Put $GL_ADMIN_BASE back at the last good commit; the pusher's message."""
        restored = ""
        if good:
            try:
                checkout(wt_env, good)
                restored = f" $GL_ADMIN_BASE (conf/, keydir/, local/) is back at {good[:12]}."
            except AdminPushError as e:
                restored = f" Could not put $GL_ADMIN_BASE back at {good[:12]}: {e}"
        return Fatal(
            fatal_lines(
                *problem.splitlines(),
                f"your push of {new[:12]} to {ADMIN_REPO} is in the repo, but its rules were NOT compiled:",
                f"{unchanged}.{restored}",
            ),
            log=(
                ADMIN_REPO,
                user,
                f"admin push {new[:12]} did not compile: {problem.splitlines()[0]}",
            ),
        )

    def compiled(report: CompileReport) -> None:
        record_good(git_dir, new)
        glog.log(rc, "compile", ADMIN_REPO, user, new, _summary(report))
        created = report.created
        if created:
            shown = ", ".join(created[:10]) + (
                f" and {len(created) - 10} more" if len(created) > 10 else ""
            )
            print(
                f"created {len(created)} repo{'s' if len(created) != 1 else ''}: {shown}",
                file=sys.stderr,
            )
        if hooks_changed(env, good, new):
            relink_all_hooks(rc)

    _, status = compile_rules(rc, not_compiled, on_compiled=compiled, any_error=True)
    if status:
        print(
            f"WARNING: the new rules are in force, but POST_COMPILE stopped with status {status} "
            "(see above); authorized_keys and the lists may be stale until the server's admin runs "
            "`gitolite-triggers setup` or `gitolite-triggers trigger POST_COMPILE`",
            file=sys.stderr,
        )
        glog.log(
            rc,
            "warn",
            ADMIN_REPO,
            user,
            f"POST_COMPILE after admin push {new[:12]} exited {status}",
        )
    return status


def _summary(report: CompileReport) -> str:
    return f"created={len(report.created)}"
