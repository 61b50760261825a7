"""The ``buildkite`` trigger program: spool one record per pushed ref to build, kick the deliverer.

Three ways in, one behaviour (``main(argv)``; the built-in script ``triggers/buildkite``
calls it, and ``gitolite_triggers.buildkite.trigger:main`` runs it in-process):

- POST_GIT (``... POST_GIT repo user aa any verb cpu...``): the push's ref updates as the
  post-receive hook recorded them under ``GL_TID`` (hooks/pushrecord.py); a fetch
  (``git-upload-pack``) has none and does nothing;
- ``hooks: post-receive:``: git's stdin lines ``old new ref`` (in-process, where the hook
  already consumed stdin, the same push record);
- ``hooks: update:``: git's arguments ``ref old new``.

Whatever fires, and however often, one (repo, ref, new commit) makes one spool record
(spool.py), deleted refs never build, and tags only where configured. The push never
waits for Buildkite: after the spool write a detached process delivers.
"""

from __future__ import annotations

import os
import sys
import time

from gitolite_triggers import glog
from gitolite_triggers.buildkite import config
from gitolite_triggers.names import is_sha
from gitolite_triggers.rc import Rc, load_rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.buildkite.spool import Spool
    from gitolite_triggers.refupdate import RefUpdate


def _updates(rc: Rc, argv: list[str]) -> tuple[str | None, str | None, list[RefUpdate], str] | None:
    """(repo, user, updates, source) for this invocation, or None when it is not a push."""
    from gitolite_triggers.refupdate import RefUpdate, parse  # pushes only: main() skips fetches

    env_repo = os.environ.get("GL_REPO") or None
    env_user = os.environ.get("GL_USER") or None
    if "POST_GIT" in argv:
        rest = argv[argv.index("POST_GIT") + 1 :]
        if len(rest) < 5 or rest[4] != "git-receive-pack":
            return None
        repo, user = rest[0], rest[1]
        return repo, user, [], "POST_GIT"
    if len(argv) >= 3 and argv[-3].startswith("refs/") and is_sha(argv[-2]) and is_sha(argv[-1]):
        ref, old, new = argv[-3:]
        return env_repo, env_user, [RefUpdate(old, new, ref)], "update"
    data = ""
    try:
        if sys.stdin is not None and not sys.stdin.isatty():
            data = sys.stdin.read()
    except (OSError, ValueError):
        data = ""
    return env_repo, env_user, parse(data), "post-receive"


def main(argv: list[str] | None = None) -> int:
    """Never fails the push (it has already happened): problems are warned and logged."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "POST_GIT" in args:
        rest = args[args.index("POST_GIT") + 1 :]
        if len(rest) < 5 or rest[4] != "git-receive-pack":
            return 0  # a fetch: nothing to build, and nothing loaded
    try:
        return _main(args)
    except Exception as e:  # a message for the pusher and the log, not a traceback
        from gitolite_triggers.errors import session_ref, talking_to_client

        msg = f"buildkite: could not queue builds: {type(e).__name__}: {e}"
        glog.log(None, "buildkite", "error", msg)
        if talking_to_client():  # a pusher: no server path or internals, a reference instead
            msg = f"buildkite: could not queue builds; ask an admin (ref {session_ref()})"
        print(f"WARNING: {msg}", file=sys.stderr)
        return 0


def _main(args: list[str]) -> int:
    rc = load_rc()
    found = _updates(rc, args)
    if found is None:
        return 0
    repo, user, updates, source = found
    if not repo:
        return 0
    target = config.target_for(rc, repo)
    if target is None:
        return 0
    if not updates:
        from gitolite_triggers.hooks import pushrecord

        updates = pushrecord.updates_for(rc, os.environ.get("GL_TID", ""), repo)
    enqueue(rc, repo, user, updates, source, target)
    return 0


def enqueue(
    rc: Rc,
    repo: str,
    user: str | None,
    updates: list[RefUpdate],
    source: str,
    target: config.Target | None = None,
) -> list[str]:
    """Spool the builds ``updates`` call for; start a deliverer; return the new record ids."""
    target = target or config.target_for(rc, repo)
    if target is None:
        return []
    from gitolite_triggers.buildkite.payload import build_body, commit_infos
    from gitolite_triggers.buildkite.spool import Spool, delivery_id

    wanted = [
        (u.old, u.new, u.ref, branch)
        for u in updates
        if not u.is_delete and (branch := target.wants(u.ref))
    ]
    s = config.settings(rc)
    spool = Spool(s.spool_dir)
    created: list[str] = []
    if wanted:
        from gitolite_triggers.repos import repo_path

        fresh = [w for w in wanted if not _known(spool, delivery_id(repo, w[2], w[1]))]
        infos = (
            commit_infos(str(repo_path(rc, repo)), [new for _, new, _, _ in fresh]) if fresh else {}
        )
        for old, new, ref, branch in fresh:
            info = infos.get(new)
            if info is None:
                glog.log(rc, "buildkite", "skip", repo, ref, new, "not a commit")
                continue
            rid = delivery_id(repo, ref, new)
            rec = {
                "id": rid,
                "repo": repo,
                "ref": ref,
                "old": old,
                "new": new,
                "user": user or "",
                "source": source,
                "org": target.org,
                "pipeline": target.pipeline,
                "body": build_body(target, branch, info, rid, repo, ref, user),
                "created": time.time(),
                "attempts": 0,
                "next_at": 0.0,
                "maybe_posted": False,
                "history": [],
            }
            if spool.add(rec, sync_dir=False):
                created.append(rid)
                glog.log(
                    rc,
                    "buildkite",
                    "queued",
                    repo,
                    ref,
                    new,
                    f"{target.org}/{target.pipeline}",
                    f"id={rid}",
                )
    if created:
        spool.sync_pending()
    # Kick only when no deliverer holds the lock: a running one re-reads the spool while
    # it works and once more after letting go of the lock, and our record is already there.
    if rc.buildkite.get("autostart", True) and spool.has_pending() and spool.holder() is None:
        kick(rc, s.spool_dir)
    return created


def _known(spool: Spool, rid: str) -> bool:
    return any(spool.path(state, rid).exists() for state in ("pending", "done", "dead"))


def deliverer_argv() -> list[str]:
    """How the detached deliverer is started: like the launchers (launcher.py), isolated.

    ``-I -S`` (no PYTHON* variables, no script folder or cwd on sys.path, no site) with
    the import path baked in, so no module planted anywhere can be imported in its place.
    """
    from gitolite_triggers.launcher import import_path

    code = (
        "import sys\n"
        f"sys.path += [p for p in {import_path()!r} if p not in sys.path]\n"
        "from gitolite_triggers.buildkite.deliver import main\n"
        "sys.exit(main([]))\n"
    )
    return [sys.executable, "-I", "-S", "-c", code]


def kick(rc: Rc, spool_dir: str) -> None:
    """Start a detached deliverer (new session, no stdio, nice 10): the pusher never waits for it.

    GIT_* (the hook's quarantine environment) is dropped; GL_* and HOME stay so it finds
    the same account. Its cwd is ``/``, never the spool. The token is never put on its
    command line.
    """
    import shutil
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.setdefault("GL_ADMIN_BASE", rc.admin_base)
    nice = shutil.which("nice")
    prefix = [nice, "-n", "10"] if nice else []
    try:
        subprocess.Popen(  # argv list, no shell
            [*prefix, *deliverer_argv()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
            cwd="/",
            env=env,
        )
    except OSError as e:
        glog.log(
            rc,
            "buildkite",
            "warn",
            f"could not start the deliverer: {e.strerror}; records stay spooled",
        )


if __name__ == "__main__":
    sys.exit(main())
