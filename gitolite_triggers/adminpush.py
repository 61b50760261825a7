"""What a push to ``gitolite-admin`` does: refuse it whole, or put all of it in force.

The promise (docs/reliability.md): after any push to gitolite-admin exactly one holds:
the push is refused (the ref does not move) and nothing changed, the pusher told the real
cause; or it is accepted and everything it implies is in force. So:

- pre-receive (``prepare``), the pushed objects still in quarantine: nothing happens
  unless the push updates the admin repo's HEAD branch. The tree is checked (a top-level
  ``hooks``, ``logs`` or ``bin``, the server's own names, symlinks and private keys are
  refused), then adminstage.build stages everything the commit implies (checkout, compiled
  rules, new repos, authorized_keys, git configs, gitweb/daemon lists, gl-last-good). A conf
  error (file:line), a full disk ("no space left on the server"), a PRE_CREATE refusal or a
  busy lock ("another admin push is being applied") refuses the push: nothing live changed.
- post-update (``post_update``), the ref has moved: adminstage.commit_stage makes the
  stage live with renames, then POST_CREATE/POST_COMPILE's other programs run. What can
  only fail now (a site's own POST_COMPILE program, a kill) is left in the drift record
  (``gl-drift.json``, docs/reliability.md), told to the pusher, and cleared by
  ``gitolite-triggers compile`` or the next admin push (``apply_tip``).

``gl-last-good`` (the admin repo's folder, where no push can write) is always the commit
whose rules are in force. Admin pushes are serialised with a lock; post-update applies the
branch's tip as it is when it gets the lock, so the last push wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from gitolite_triggers import adminstage, glog
from gitolite_triggers.errors import Fatal, fatal_lines
from gitolite_triggers.rc import Rc
from gitolite_triggers.repos import ADMIN_REPO, relink_all_hooks, repo_path

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


_TREE_PROBLEMS: dict[str, list[str]] = {}  # commit id -> its problems (ids are immutable)


def tree_problems(env: dict[str, str], commit: str) -> list[str]:
    """What in ``commit``'s tree the server must not check out and read, one message each.

    Remembered per commit id for the process: pre-receive asks it twice of the same commit
    (the pushed-content check, then staging's ``check_tree``), and at 100,000 keys each
    answer reads every key blob (about a second).
    """
    is_id = len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit)
    if is_id and commit in _TREE_PROBLEMS:
        return list(_TREE_PROBLEMS[commit])
    problems = _tree_problems(env, commit)
    if is_id:
        _TREE_PROBLEMS[commit] = list(problems)
    return problems


def _tree_problems(env: dict[str, str], commit: str) -> list[str]:
    """tree_problems, uncached: what in ``commit``'s tree the server must not read.

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


def hooks_changed(env: dict[str, str], old: str | None, new: str) -> bool:
    if old is None:
        return True
    names = _git(env, "diff", "--name-only", old, new, check=False).splitlines()
    return any("/hooks/common/" in f"/{name}" for name in names)


def post_update(rc: Rc, refs: list[str]) -> int:
    """Make a push to gitolite-admin live; return 0 when everything it implies is in force.

    ``refs`` are git's post-update arguments (the refnames the push updated). Nothing to
    do unless they include the HEAD branch. A push whose state could not be put in force
    raises ``Fatal`` with the pusher's message (the drift record holds it too).
    """
    git_dir = repo_path(rc, ADMIN_REPO)
    env = _git_env(git_dir)
    branch = head_branch(env)
    if branch not in refs:
        return 0
    Path(rc.admin_base).mkdir(parents=True, exist_ok=True)
    with admin_lock(git_dir), _outside_receive_pack():
        return apply_tip(rc, git_dir, branch, os.environ.get("GL_USER", ""))


def prepare(rc: Rc, ref: str, new: str) -> None:
    """pre-receive of gitolite-admin: stage the HEAD branch's new commit, or refuse the push."""
    if set(new) == {"0"}:
        return
    git_dir = repo_path(rc, ADMIN_REPO)
    if ref != head_branch(_git_env(git_dir)):
        return
    user = os.environ.get("GL_USER", "")
    qenv = {**os.environ, "GIT_DIR": str(git_dir)}  # sees the quarantined objects
    base = Path(rc.admin_base)
    base.mkdir(parents=True, exist_ok=True)
    good = last_good(git_dir)
    still = f" (the rules in force are still those of {good[:12]})" if good else ""
    try:
        with admin_lock(git_dir, wait=True), _outside_receive_pack():
            check_tree(qenv, _git_env(git_dir, str(base)), base, new)
            stage = adminstage.build(rc, git_dir, qenv, new, ref, owner=os.getppid())
    except Busy:
        why = "another admin push is being applied"
        msg = f"{why}; push of {new[:12]} to {ADMIN_REPO} refused, nothing changed{still}; push again in a moment"
        raise Fatal(msg, log=(ADMIN_REPO, user, f"admin push refused: {why}")) from None
    except Exception as e:
        lines, why = _cause(e, rc.admin_base)
        raise Fatal(
            fatal_lines(
                *lines,
                f"push of {new[:12]} to {ADMIN_REPO} refused: nothing changed{still}; "
                + (
                    "push again once space is freed" if why == NO_SPACE else "fix it and push again"
                ),
            ),
            log=(ADMIN_REPO, user, f"admin push {new[:12]} refused: {why}"),
        ) from None
    for w in stage.warnings:
        print(f"WARNING: {w}", file=sys.stderr)


NO_SPACE = "no space left on the server"


def _cause(e: BaseException, where: str | None = None) -> tuple[list[str], str]:
    """(the pusher's lines, the log's one-line reason) for a failed stage or commit."""
    from gitolite_triggers.conf.errors import ConfError

    if adminstage.no_space(e, where):
        return [NO_SPACE], NO_SPACE
    if isinstance(e, (ConfError, AdminPushError, adminstage.StageFailed, Fatal)):
        text = e.message if isinstance(e, Fatal) else str(e)
        lines = text.splitlines() or [""]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        return lines, lines[0] + more
    if isinstance(e, OSError):
        what = f"{e.strerror or e}"
        return [f"the server could not write its new state: {what}"], what
    from gitolite_triggers.errors import session_ref

    glog.log(None, "warn", f"admin push: unexpected {type(e).__name__}: {e}")
    return [f"the server could not apply it (ref {session_ref()})"], f"{type(e).__name__}: {e}"


def needs_converge(rc: Rc) -> bool:
    """True when the rules in force may not be the admin repo's HEAD branch's: a drift
    record, or gl-last-good differing from the branch's tip."""
    git_dir = repo_path(rc, ADMIN_REPO)
    if adminstage.read_drift(git_dir) is not None:
        return True
    good = last_good(git_dir)
    if good is None:
        return False
    env = _git_env(git_dir)
    tip = _git(env, "rev-parse", "-q", "--verify", f"{head_branch(env)}^{{commit}}", check=False)
    return bool(tip) and tip != good


def converge(rc: Rc) -> int:
    """``compile``'s repair: apply the HEAD branch's tip as an admin push would."""
    git_dir = repo_path(rc, ADMIN_REPO)
    env = _git_env(git_dir)
    with admin_lock(git_dir), _outside_receive_pack():
        return apply_tip(rc, git_dir, head_branch(env), "", by_hand=True)


def settle(rc: Rc) -> None:
    """After ``setup`` put the HEAD branch in force: no drift is left."""
    git_dir = repo_path(rc, ADMIN_REPO)
    env = _git_env(git_dir)
    tip = _git(env, "rev-parse", "-q", "--verify", f"{head_branch(env)}^{{commit}}", check=False)
    if tip and tip == last_good(git_dir):
        adminstage.clear_drift(git_dir)


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


class Busy(Exception):
    """Another admin push held the lock for longer than an admin push waits."""


LOCK_WAIT = 60.0  # seconds a pre-receive waits for another admin push's stage or commit


@contextlib.contextmanager
def admin_lock(git_dir: Path, wait: bool = False) -> Iterator[None]:
    """Serialise admin pushes, ``compile`` and ``setup``: stage, commit and POST_COMPILE.

    ``wait`` (pre-receive): give up with Busy after LOCK_WAIT seconds, so a pusher is told
    rather than left hanging; the others wait for as long as it takes.
    """
    with open(git_dir / LOCK, "a") as lock:
        if not wait:
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            import time

            from gitolite_triggers import faults

            end = time.monotonic() + faults.setting("LOCK_WAIT", LOCK_WAIT)
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= end:
                        raise Busy from None
                    time.sleep(0.05)
        yield


def apply_tip(rc: Rc, git_dir: Path, branch: str, user: str, by_hand: bool = False) -> int:
    """Put the branch's tip in force (its stage, or one built now); POST_COMPILE's others.

    Under the admin lock. Returns POST_COMPILE's status (0: everything in force, no drift).
    """
    from gitolite_triggers.postcompile.plan import Stale

    env = _git_env(git_dir)
    tip = _git(env, "rev-parse", "-q", "--verify", f"{branch}^{{commit}}", check=False)
    if not tip:
        return 0  # the branch was deleted: nothing to apply, the rules in force stay
    good = last_good(git_dir)
    if tip == good and adminstage.read_drift(git_dir) is None:
        return 0
    if by_hand:
        print(
            f"applying {ADMIN_REPO} {branch.removeprefix('refs/heads/')} at {tip[:12]}",
            file=sys.stderr,
        )
    base = Path(rc.admin_base)
    try:
        stage = adminstage.find(rc, tip)
        if stage is not None:
            try:
                adminstage.commit_stage(stage)
            except Stale:
                adminstage.drop(stage)
                stage = None
        if stage is None:  # no pre-receive stage (an old link, `compile`), or a stale one
            check_tree(env, _git_env(git_dir, str(base)), base, tip)
            stage = adminstage.build(rc, git_dir, env, tip, branch)
            adminstage.commit_stage(stage)
    except Exception as e:
        lines, why = _cause(e, rc.admin_base)
        adminstage.note_drift(git_dir, tip, branch, "not applied", why)
        held = f"still those of {good[:12]}" if good else "the previous ones"
        raise Fatal(
            fatal_lines(
                *lines,
                f"{ADMIN_REPO} is at {tip[:12]} but its rules are NOT in force ({held}); "
                "once the cause is fixed, the server's admin runs `gitolite-triggers compile` "
                "(or push again)",
            ),
            log=(ADMIN_REPO, user, f"admin push {tip[:12]} accepted, not applied: {why}"),
        ) from None
    adminstage.sweep(rc, git_dir)  # stages of pushes that were refused after their stage
    glog.log(rc, "compile", ADMIN_REPO, user, tip, f"created={len(stage.created)}")
    if stage.created:  # git's own words per new repo, as gitolite's compile passes them on
        from gitolite_triggers.repos import initialized_line, repo_path

        for name in stage.created:
            print(initialized_line(repo_path(rc, name)), file=sys.stderr)
    status = _after_commit(rc, git_dir, env, good, tip, stage)
    if status:
        problem = f"POST_COMPILE stopped with status {status}"
        adminstage.note_drift(git_dir, tip, branch, "post-compile", problem)
        print(
            f"WARNING: the new rules are in force, but {problem} (see above); recorded as drift: "
            "the server's admin runs `gitolite-triggers compile` once it is fixed",
            file=sys.stderr,
        )
        glog.log(
            rc,
            "warn",
            ADMIN_REPO,
            user,
            f"POST_COMPILE after admin push {tip[:12]} exited {status}",
        )
    else:
        adminstage.clear_drift(git_dir)
    return status


def _after_commit(
    rc: Rc, git_dir: Path, env: dict[str, str], good: str | None, tip: str, stage: adminstage.Stage
) -> int:
    """What runs once the new state is live: hook links, POST_CREATE's and POST_COMPILE's
    other programs (a site's own). Their failure is drift, not a refusal."""
    from gitolite_triggers import faults
    from gitolite_triggers.runner import Options, fire_entries

    faults.point("after:start")
    try:
        if hooks_changed(env, good, tip):
            relink_all_hooks(rc)
    except OSError as e:
        print(f"WARNING: could not re-link hooks: {e.strerror or e}", file=sys.stderr)
        return 1
    status = 0
    if stage.created:
        skip = {
            (e.get("program", ""), tuple(e.get("args", ())))
            for e in rc.trigger_list("POST_COMPILE")
        }
        post = [
            e
            for e in rc.trigger_list("POST_CREATE")
            if (e.get("program", ""), tuple(e.get("args", ()))) not in skip
        ]
        for name in stage.created:
            if post:
                status = status or fire_entries(rc, "POST_CREATE", post, [name], repo=name)
    try:  # rule templates write gl-perms into live repos, so only now (conf/templates.py)
        from gitolite_triggers.conf import templates
        from gitolite_triggers.conf.errors import ConfError

        for warning in templates.reapply(rc):
            print(f"WARNING: {warning}", file=sys.stderr)
    except (OSError, Fatal, ConfError) as e:
        print(f"WARNING: rule templates not applied: {e}", file=sys.stderr)
        status = status or 1
    faults.point("after:post_create")
    if stage.later:
        status = status or fire_entries(rc, "POST_COMPILE", stage.later, [], opts=Options())
    faults.point("after:post_compile")
    return status
