"""An admin push's new state, built before the ref moves and made live by renames after.

The promise (docs/reliability.md): after a push to gitolite-admin either the push is
refused and nothing changed, or it is accepted and everything it implies is in force.
So the admin repo's pre-receive (the pushed objects still in quarantine) calls ``build``:

1. the pushed tree is checked out into ``$GL_ADMIN_BASE/.gl-stage/<commit>.<id>/tree``
   (a temp index in the admin repo's folder);
2. compiled from there into ``<stage>/compiled.rules``; new repos are made whole in
   ``<stage>/repos/`` (PRE_CREATE fires here: it can still refuse the push);
3. the built-in POST_COMPILE programs (authorized_keys and the key index, git configs,
   the gitweb and daemon lists) stage their files beside the live ones (postcompile/plan.py),
   asking the staged rules;
4. ``gl-last-good`` and the drift record are staged in the admin repo's folder;
5. the manifest (``<stage>/stage.json``) lists every op; written last, atomically.

Any failure there (a conf error, a full disk, a PRE_CREATE refusal) refuses the push:
only temp files were written, removed by ``discard`` (or by the next stage's sweep).

post-update (the ref has moved) calls ``commit``: renames, empty-file creations and
unlinks only, so a full disk cannot stop it. The first op renames the staged drift record
to ``gl-drift.json`` in the admin repo's folder; the last ops put ``gl-last-good`` in place;
the record is removed once POST_COMPILE's other programs ran. A kill in between leaves
the record, which ``doctor`` shows and ``compile`` (or the next admin push) clears by
applying the branch's tip again (``converge``).

Everything here runs under the admin lock (adminpush.admin_lock).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitolite_triggers import faults
from gitolite_triggers.postcompile.plan import Plan, check, commit, discard
from gitolite_triggers.rc import Rc

STAGE_DIR = ".gl-stage"
MANIFEST = "stage.json"
DRIFT = "gl-drift.json"
LAST_GOOD = "gl-last-good"
KEYS_STAMP = "gl-keys-staged.json"
STALE_AFTER = 3600  # seconds: a stage no post-update came for (the ref update failed)

# The built-ins that stage their writes (the rest of POST_COMPILE runs after the commit).
STAGEABLE = {
    "post-compile/ssh-authkeys": "ssh_authkeys",
    "post-compile/update-git-configs": "git_configs",
    "post-compile/update-gitweb-access-list": "gitweb",
    "post-compile/update-git-daemon-access-list": "daemon",
}


class StageFailed(Exception):
    """Building the stage failed; the message is for the pusher (no server paths)."""

    def __init__(self, message: str, no_space: bool = False) -> None:
        super().__init__(message)
        self.no_space = no_space


@dataclass
class Stage:
    """One built stage: what commit needs, as stored in the manifest."""

    commit: str
    folder: str
    ops: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    later: list[dict[str, Any]] = field(default_factory=list)  # POST_COMPILE entries after commit
    warnings: list[str] = field(default_factory=list)
    repo_stage: str = ""  # where new repos were built, if outside ``folder``
    owner: int = 0  # the receive-pack whose post-update will commit it (0: committed at once)

    def save(self) -> None:
        from gitolite_triggers.atomicfile import write_atomic

        doc = {
            "version": 1,
            "commit": self.commit,
            "ops": self.ops,
            "created": self.created,
            "later": self.later,
            "repo_stage": self.repo_stage,
            "owner": self.owner,
        }
        write_atomic(os.path.join(self.folder, MANIFEST), json.dumps(doc).encode(), 0o600)

    @classmethod
    def load(cls, folder: str) -> Stage | None:
        try:
            with open(os.path.join(folder, MANIFEST), "rb") as f:
                doc = json.load(f)
            stage = cls(doc["commit"], folder, doc["ops"], doc["created"], doc["later"])
            stage.repo_stage = str(doc.get("repo_stage", ""))
            stage.owner = int(doc.get("owner", 0))
            return stage
        except (OSError, ValueError, KeyError, TypeError):
            return None


def no_space(e: BaseException | None, where: str | None = None) -> bool:
    """True if ``e`` (or what caused it) is a full disk or quota; with ``where``, also any
    write failure while that filesystem has (almost) no space left (git's messages often
    omit the errno)."""
    if where is not None and e is not None and _may_be_space(e):
        try:
            st = os.statvfs(where)
            if st.f_bavail * st.f_frsize < LOW_SPACE:
                return True
        except OSError:
            pass
    while e is not None:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "Disk quota exceeded" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _may_be_space(e: BaseException) -> bool:
    """A failure to write (an OS error, git or a repo creation failing), as opposed to a
    refusal with its own reason (a conf error, a refused tree, a program's Fatal)."""
    from gitolite_triggers.conf.compile import CompileError

    return isinstance(e, (OSError, StageFailed, subprocess.CalledProcessError, CompileError))


def stages_root(rc: Rc) -> str:
    return os.path.join(rc.admin_base, STAGE_DIR)


def sweep(rc: Rc, git_dir: Path, keep: str | None = None, max_age: float = STALE_AFTER) -> None:
    """Remove stages older than ``max_age`` seconds, and any stage whose manifest was never
    written (a killed or failed build): their temp files and folders. Under the admin lock,
    so no build is half done; a complete stage removed too early only costs its push a
    rebuild in post-update."""
    root = stages_root(rc)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return
    now = time.time()
    for name in names:
        folder = os.path.join(root, name)
        if folder == keep:
            continue
        stage = Stage.load(folder)
        try:
            age = now - os.lstat(folder).st_mtime
        except OSError:
            continue
        if stage is not None and age < max_age and pid_alive(stage.owner):
            continue  # its push is still going: its post-update will commit it
        if stage is not None:
            discard(stage.ops)
        _remove_temps(rc, git_dir, name.rpartition(".")[2])
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(os.path.join(rc.repo_base, f".gl-stage-{name}"), ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` still running (one of ours or another account's)? For a stage: once
    its receive-pack has ended, its post-update either committed the stage or never will (its
    ref update failed); doctor asks it of a temp file's writer."""
    if pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_temps(rc: Rc, git_dir: Path, stage_id: str) -> None:
    """A build killed before its manifest: its temp files in the known folders."""
    from gitolite_triggers import paths
    from gitolite_triggers.postcompile.plan import STAGE_MARK

    suffix = STAGE_MARK + stage_id
    ssh = os.path.join(paths.home_dir(), ".ssh")
    folders = [str(git_dir), ssh, os.path.join(ssh, "gitolite-triggers-keys")]
    target = rc.get("GITWEB_PROJECTS_LIST")
    if target:
        folders.append(os.path.dirname(str(target)))
    for folder in folders:
        try:
            for name in os.listdir(folder):
                if name.endswith(suffix):
                    os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def find(rc: Rc, commit_id: str) -> Stage | None:
    """The newest complete stage of ``commit_id``."""
    root = stages_root(rc)
    try:
        names = sorted(n for n in os.listdir(root) if n.startswith(commit_id + "."))
    except FileNotFoundError:
        return None
    for name in reversed(names):
        stage = Stage.load(os.path.join(root, name))
        if stage is not None and stage.commit == commit_id:
            return stage
    return None


def _git(env: dict[str, str], cwd: str, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "No space left" in err or "Disk quota" in err or _write_error(err, env):
            raise OSError(errno.ENOSPC, "No space left on device")
        raise StageFailed(
            f"git {args[0]} failed: {err.splitlines()[-1] if err else proc.returncode}"
        )
    return proc.stdout


LOW_SPACE = 64 * 1024


def _write_error(err: str, env: dict[str, str]) -> bool:
    """git says "unable to write file" without the errno: a nearly full disk is the cause
    when the work tree's filesystem has (almost) nothing left."""
    if "unable to write" not in err and "write error" not in err and "short write" not in err:
        return False
    where = env.get("GIT_WORK_TREE") or env.get("GIT_DIR") or "."
    try:
        st = os.statvfs(where)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE


def _staged_repo_base(rc: Rc, folder: str) -> str:
    """Where new repos are built: in the stage if it is on the repo base's filesystem
    (the rename into place must not cross filesystems), else in a hidden folder there."""
    os.makedirs(rc.repo_base, exist_ok=True)
    inside = os.path.join(folder, "repos")
    if os.stat(rc.admin_base).st_dev == os.stat(rc.repo_base).st_dev:
        return inside
    return os.path.join(rc.repo_base, f".gl-stage-{os.path.basename(folder)}")


def build(
    rc: Rc, git_dir: Path, qenv: dict[str, str], commit_id: str, ref: str, owner: int = 0
) -> Stage:
    """Stage everything ``commit_id`` implies; raise StageFailed/ConfError/OSError (nothing live
    changed). ``qenv``: git's environment that sees the pushed objects (quarantine)."""
    from gitolite_triggers.conf.compile import Staged, compile_conf
    from gitolite_triggers.conf.store import live_store_path, read_staged
    from gitolite_triggers.postcompile.plan import ident, new_stage_id
    from gitolite_triggers.repos import _hook_links, build_repo

    faults.point("stage:start")
    sweep(rc, git_dir)
    stage_id = new_stage_id()
    folder = os.path.join(stages_root(rc), f"{commit_id}.{stage_id}")
    os.makedirs(folder, mode=0o700)
    stage = Stage(commit_id, folder)
    stage.owner = owner
    try:
        # 1. the pushed tree
        tree = os.path.join(folder, "tree")
        os.mkdir(tree)
        index = str(git_dir / f".index.gl-stage.{stage_id}")
        tenv = {**qenv, "GIT_DIR": str(git_dir), "GIT_WORK_TREE": tree, "GIT_INDEX_FILE": index}
        staged_tree = _Tree(rc, git_dir, qenv, tree, index)
        staged_tree.checkout(commit_id)
        staged_tree.fill("conf")
        faults.point("stage:checkout")
        # 2. compile, new repos built whole in the stage
        repo_stage = _staged_repo_base(rc, folder)
        if not repo_stage.startswith(folder + os.sep):
            stage.repo_stage = repo_stage
        links = _hook_links(rc)
        repo_ops: list[dict[str, Any]] = []

        def create(name: str) -> None:
            build_repo(rc, f"{repo_stage}/{name}.git", links)
            dst = f"{rc.repo_base}/{name}.git"
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            repo_ops.append(
                {"op": "rename", "src": f"{repo_stage}/{name}.git", "dst": dst, "ident": None}
            )

        staged_store = os.path.join(folder, "compiled.rules")
        live_store = live_store_path(rc)
        report = compile_conf(rc, staged=Staged(os.path.join(tree, "conf"), staged_store, create))
        stage.created = list(report.created)
        stage.warnings = list(report.warnings)
        faults.point("stage:compiled")
        store_op = {
            "op": "rename",
            "src": staged_store,
            "dst": live_store,
            "ident": ident(live_store),
        }
        # 3. the built-in POST_COMPILE programs, asking the staged rules
        plan = Plan(stage_id)
        read_staged(rc, staged_store)
        try:
            stage.later = _stage_builtins(
                rc,
                plan,
                staged_tree,
                _keydir_tree(tenv, git_dir, commit_id),
                stage.created,
                repo_stage,
            )
        finally:
            read_staged(rc, None)
        faults.point("stage:builtins")
        # 4. the checkout, gl-last-good, the drift record
        checkout_ops = staged_tree.ops()
        tail = Plan(stage_id)
        tail.put(git_dir / LAST_GOOD, (commit_id + "\n").encode(), 0o644)
        drift = Plan(stage_id)
        drift.put(git_dir / DRIFT, drift_record(commit_id, ref, "applying", ""), 0o644)
        for op in drift.ops + tail.ops:
            op["force"] = True  # gl-last-good and the record: ours, whatever they hold now
        stage.ops = drift.ops + repo_ops + [store_op] + plan.ops + checkout_ops + tail.ops
        # 5. the manifest: the stage exists only once this is written
        stage.save()
        faults.point("stage:saved")
    except BaseException as e:
        full = isinstance(e, Exception) and no_space(e, folder)  # before the temps go
        discard(stage.ops)
        _remove_temps(rc, git_dir, stage_id)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(os.path.join(rc.repo_base, f".gl-stage-{os.path.basename(folder)}"), True)
        if full:
            raise OSError(errno.ENOSPC, "No space left on device") from e
        raise
    return stage


def plan_stamp(rc: Rc) -> Path:
    """What authorized_keys was last staged from (ssh_authkeys.stage), beside gl-last-good."""
    from gitolite_triggers.repos import ADMIN_REPO, repo_path

    return repo_path(rc, ADMIN_REPO) / KEYS_STAMP


def _keydir_tree(env: dict[str, str], git_dir: Path, commit_id: str) -> str:
    """The commit's keydir tree object ("" if it has none)."""
    out = _git(env, str(git_dir), "ls-tree", "-z", commit_id, "--", "keydir").split("\0")[0]
    meta = out.partition("\t")[0].split(" ")
    return meta[2] if len(meta) == 3 and meta[1] == "tree" else ""


def _stage_builtins(
    rc: Rc,
    plan: Plan,
    tree: _Tree,
    keydir_tree: str,
    created: list[str],
    repo_stage: str,
) -> list[dict[str, Any]]:
    """Stage the built-ins of POST_COMPILE; return the entries left for after the commit."""
    import importlib

    from gitolite_triggers.programs import NotFound, resolve

    later = []
    for entry in rc.trigger_list("POST_COMPILE"):
        module = STAGEABLE.get(entry["program"])
        try:
            builtin = (
                module is not None and resolve(entry["program"], rc.local_code).func is not None
            )
        except NotFound:
            builtin = False
        if not builtin:
            later.append(entry)
            continue
        mod = importlib.import_module(f"gitolite_triggers.postcompile.{module}")
        if module == "ssh_authkeys":
            mod.stage(
                rc,
                plan,
                Path(tree.tree) / "keydir",
                keydir_tree,
                str(plan_stamp(rc)),
                files=tree.keydir_files,
            )
        else:
            mod.stage(rc, plan, created, repo_stage)
    return later


class _Tree:
    """The stage's copy of the pushed tree: only what differs from the live checkout.

    Why: on a site with 100,000 key files an admin push changes a few; writing (or even
    linking) them all again cost seconds. The live checkout's index says which live files
    are the pushed commit's already (git's stat check, ``diff-files``, and the index vs
    the commit, ``diff-index``); only the others are written, by git, into ``tree``, and
    only they are renamed into place. The stage index is the live one with the commit read
    in (``read-tree -m`` keeps the stat data of the entries that did not change).

    What reads the tree (the compiler: conf/; ssh-authkeys: keydir/) gets those folders
    whole from ``fill``: hard links to the live files, which are never written in place
    (the commit renames new files over them; git unlinks before it writes).
    Without a live index (a server set up by an older version), git writes everything.
    """

    def __init__(self, rc: Rc, git_dir: Path, qenv: dict[str, str], tree: str, index: str):
        self.base = rc.admin_base
        self.git_dir = git_dir
        self.tree = tree
        self.index = index
        self.env = {**qenv, "GIT_DIR": str(git_dir), "GIT_WORK_TREE": tree, "GIT_INDEX_FILE": index}
        self.written: list[str] = []  # paths of the commit written into the tree
        self.removed: list[str] = []  # live tracked paths the commit does not have
        self.partial = False
        self.filled: set[str] = set()

    def checkout(self, commit_id: str) -> None:
        live_index = self.git_dir / "index"
        if live_index.is_file():
            try:
                self._partial(live_index, commit_id)
                return
            except StageFailed:  # a damaged live index: doctor names it; write everything
                shutil.rmtree(self.tree)
                os.mkdir(self.tree)
                self.written, self.removed, self.partial = [], [], False
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.index)
        _git(self.env, str(self.git_dir), "read-tree", "--reset", "-u", commit_id)
        self.written = self.ls("")

    def _partial(self, live_index: Path, commit_id: str) -> None:
        shutil.copyfile(live_index, self.index)
        live = {**self.env, "GIT_WORK_TREE": self.base}
        # live files that differ from the live index (edited, missing); ctime is ignored:
        # the rename that put a file in place changed it
        dirty = set(
            _split(
                _git(
                    live,
                    self.base,
                    "-c",
                    "core.trustctime=false",
                    "diff-files",
                    "-z",
                    "--name-only",
                )
            )
        )
        status = _split(
            _git(
                live,
                self.base,
                "diff-index",
                "--cached",
                "-z",
                "--name-status",
                "--no-renames",
                commit_id,
            )
        )
        changed: dict[str, str] = dict(zip(status[1::2], status[0::2], strict=True))
        self.removed = sorted(p for p, st in changed.items() if st == "A")  # not in the commit
        gone = set(self.removed)
        self.written = sorted({p for p, st in changed.items() if st != "A"} | (dirty - gone))
        _git(self.env, str(self.git_dir), "read-tree", "-m", commit_id)
        if self.written:
            _git_in(
                self.env,
                str(self.git_dir),
                "\0".join(self.written) + "\0",
                "checkout-index",
                "-f",
                "-u",
                "-z",
                "--stdin",
            )
        self.partial = True

    def ls(self, prefix: str) -> list[str]:
        args = ["ls-files", "-z"] + (["--", prefix] if prefix else [])
        return _split(_git({**self.env, "GIT_WORK_TREE": self.tree}, str(self.git_dir), *args))

    def fill(self, top: str) -> None:
        """Make ``tree/top`` whole: hard links to the live files that are the commit's."""
        import stat

        if not self.partial or top in self.filled:
            return
        self.filled.add(top)
        written = set(self.written)
        folders: dict[str, bool] = {"": True}  # relative folder -> a real folder, made in tree

        def folder_ok(rel: str) -> bool:
            if rel not in folders:
                parent = rel.rpartition("/")[0]
                ok = folder_ok(parent)
                if ok:
                    try:  # never through a symlinked folder: only files really in the base
                        ok = stat.S_ISDIR(os.lstat(os.path.join(self.base, rel)).st_mode)
                    except OSError:
                        ok = False
                if ok:
                    os.makedirs(os.path.join(self.tree, rel), exist_ok=True)
                folders[rel] = ok
            return folders[rel]

        missing = []
        for path in self.ls(top + "/"):
            if path in written:
                continue
            src = os.path.join(self.base, path)
            try:
                if not folder_ok(path.rpartition("/")[0]) or not stat.S_ISREG(
                    os.lstat(src).st_mode
                ):
                    missing.append(path)
                    continue
                os.link(src, os.path.join(self.tree, path), follow_symlinks=False)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                missing.append(path)
        if missing:  # cannot be linked (it should not happen): git writes a copy
            _git_in(
                self.env,
                str(self.git_dir),
                "\0".join(missing) + "\0",
                "checkout-index",
                "-f",
                "-z",
                "--stdin",
            )

    def keydir_files(self) -> list[tuple[str, str]] | None:
        """The commit's keydir/ files as (path below keydir, the keydir to read it from):
        the stage's for those written, the live one's for the others (that git found to be
        the commit's already): no copy or link of 100,000 key files. None: read the tree."""
        if not self.partial:
            return None
        written = set(self.written)
        live, staged = os.path.join(self.base, "keydir"), os.path.join(self.tree, "keydir")
        return [
            (path[len("keydir/") :], staged if path in written else live)
            for path in self.ls("keydir/")
        ]

    def ops(self) -> list[dict[str, Any]]:
        """Renames that make $GL_ADMIN_BASE's tracked files the commit's, and its index."""
        base = self.base
        removed = self.removed
        if not self.partial:  # everything was written: every live tracked file not in it goes
            env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
            env.update(GIT_DIR=str(self.git_dir), GIT_WORK_TREE=base)
            removed = sorted(
                set(_split(_git(env, str(self.git_dir), "ls-files", "-z"))) - set(self.written)
            )
        ops: list[dict[str, Any]] = []
        for path in self.written:
            dst = os.path.join(base, path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.isdir(dst) and not os.path.islink(dst):
                raise StageFailed(f"'{path}' is a folder on the server; cannot check the file out")
            src = os.path.join(self.tree, path)
            ops.append({"op": "rename", "src": src, "dst": dst, "ident": None, "force": True})
        for path in removed:
            ops.append({"op": "unlink", "path": os.path.join(base, path)})
        ops.append(
            {
                "op": "rename",
                "src": self.index,
                "dst": str(self.git_dir / "index"),
                "ident": None,
                "force": True,
            }
        )
        return ops


def _split(out: str) -> list[str]:
    return [p for p in out.split("\0") if p]


def _git_in(env: dict[str, str], cwd: str, stdin: str, *args: str) -> None:
    """git with ``stdin`` (paths for --stdin); errors as _git's."""
    proc = subprocess.run(
        ["git", *args],
        env=env,
        cwd=cwd,
        input=stdin.encode("utf-8", "surrogateescape"),
        capture_output=True,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "No space left" in err or "Disk quota" in err or _write_error(err, env):
            raise OSError(errno.ENOSPC, "No space left on device")
        raise StageFailed(
            f"git {args[0]} failed: {err.splitlines()[-1] if err else proc.returncode}"
        )


def drift_record(commit_id: str, ref: str, step: str, problem: str) -> bytes:
    """The drift record's content (format: docs/reliability.md)."""
    doc = {
        "version": 1,
        "commit": commit_id,
        "ref": ref,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "step": step,
        "problem": problem,
        "fix": "gitolite-triggers compile",
    }
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def commit_stage(stage: Stage) -> None:
    """Make a stage live (renames only); raise Stale if a live file changed since staging."""
    ops = stage.ops
    check(ops)
    faults.point("commit:start")
    for n, op in enumerate(ops):
        commit([op], checked=True)
        faults.point(f"commit:op:{n}")
    shutil.rmtree(stage.folder, ignore_errors=True)
    if stage.repo_stage:
        shutil.rmtree(stage.repo_stage, ignore_errors=True)
    faults.point("commit:done")


def drop(stage: Stage) -> None:
    """Throw a stage away (stale, or its push was refused)."""
    discard(stage.ops)
    shutil.rmtree(stage.folder, ignore_errors=True)


def read_drift(git_dir: Path) -> dict[str, Any] | None:
    try:
        with open(git_dir / DRIFT, "rb") as f:
            doc: dict[str, Any] = json.load(f)
            return doc
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"step": "unknown", "problem": "the drift record is unreadable"}


def note_drift(git_dir: Path, commit_id: str, ref: str, step: str, problem: str) -> None:
    """Write (best effort: the disk may be full) what did not get applied."""
    from gitolite_triggers.atomicfile import write_atomic

    try:
        write_atomic(git_dir / DRIFT, drift_record(commit_id, ref, step, problem), 0o644)
    except OSError:
        pass  # a staged record (step "applying") is already there, or the one before it


def clear_drift(git_dir: Path) -> None:
    try:
        os.unlink(git_dir / DRIFT)
    except FileNotFoundError:
        pass
