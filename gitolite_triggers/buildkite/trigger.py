"""The ``buildkite`` trigger program: spool one record per pushed ref and pipeline, kick the deliverer.

Three ways in (``main(argv)``; the built-in script ``triggers/buildkite`` calls it, and
``gitolite_triggers.buildkite.trigger:main`` runs it in-process):

- ``hooks: update:`` (git's arguments ``ref old new``, before git moves the ref):
  ``prepare`` writes the ref's builds to the spool's ``prepared/`` (fsynced), or refuses
  the ref when it cannot: an accepted push never loses its build;
- ``hooks: post-receive:`` (git's stdin lines; in-process, where the hook already read
  stdin, its push record): ``enqueue`` promotes the prepared records (or makes them, where
  the update hook did not), applying push options (``ci.skip``, ``ci.variable``) and skip
  markers, tells the pusher one line per build, and logs one line for a push without one;
- POST_GIT (``... POST_GIT repo user aa any verb cpu...``): the same from the push record
  post-receive wrote under ``GL_TID`` (with its push options), silent where post-receive
  has the program too; a fetch (``git-upload-pack``) does nothing.

Whatever fires, and however often, one (repo, ref, new commit, pipeline) makes one spool
record (spool.py), deleted refs never build, and tags only where configured. The push
never waits for Buildkite (unless ``feedback_wait`` asks it to wait for the URLs): after
the spool write a detached process delivers. docs/buildkite.md has the design.
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
    from typing import Any

    from gitolite_triggers.buildkite.payload import CommitInfo
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
    """Never fails the push once it has happened: problems are warned and logged.

    From the update hook (before git moves the ref) it refuses the ref when the build
    cannot be spooled: an accepted push never loses its build."""
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
    if source == "update":
        return prepare(rc, repo, user, updates[0])
    targets, why = config.targets_for(rc, repo)
    quiet = False
    if source == "POST_GIT":
        from gitolite_triggers.hooks import pushrecord

        tid = os.environ.get("GL_TID", "")
        updates = pushrecord.updates_for(rc, tid, repo)
        options = pushrecord.options_for(rc, tid, repo) if targets else []
        # post-receive (shipped beside us) has already done this push: stay a silent net
        quiet = _registered(rc, "post-receive")
    else:
        from gitolite_triggers.hooks import pushrecord

        if not updates:  # in-process, the hook has read stdin: its push record has it
            updates = pushrecord.updates_for(rc, os.environ.get("GL_TID", ""), repo)
        options = pushrecord.push_options(os.environ) if targets else []
    if not targets:
        if updates and not quiet and (config.configured(rc) or why != "no pipeline"):
            glog.log(rc, "buildkite", "none", repo, why)
        return 0
    enqueue(rc, repo, user, updates, source, targets, options, quiet)
    return 0


def _registered(rc: Rc, hook: str) -> bool:
    return any(
        str(e.get("program", "")) in ("buildkite", f"{__name__}:main") for e in rc.hook_list(hook)
    )


def skip_marker(message: str) -> str | None:
    """``[skip ci]`` or ``[ci skip]`` (any case) in a commit message, as written there."""
    low = message.lower()
    for marker in ("[skip ci]", "[ci skip]"):
        at = low.find(marker)
        if at >= 0:
            return message[at : at + len(marker)]
    return None


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _record(
    target: config.Target,
    branch: str,
    info: CommitInfo,
    rid: str,
    repo: str,
    u: RefUpdate,
    user: str | None,
    source: str,
) -> dict[str, Any]:
    from gitolite_triggers.buildkite.payload import build_body

    return {
        "id": rid,
        "repo": repo,
        "ref": u.ref,
        "old": u.old,
        "new": u.new,
        "user": user or "",
        "source": source,
        "org": target.org,
        "pipeline": target.pipeline,
        "body": build_body(target, branch, info, rid, repo, u.ref, user),
        "created": time.time(),
        "attempts": 0,
        "next_at": 0.0,
        "maybe_posted": False,
        "history": [],
    }


def _process_start(pid: int) -> str:
    """The start time of ``pid`` (/proc, field 22), to tell it from a later reuse of the pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _receive_pack() -> int:
    """The pid of the ``git receive-pack`` this update hook runs under: the parent, or,
    run as the built-in script (a child of the hook), the nearest ancestor named git*."""
    pid = os.getppid()
    for _ in range(3):
        try:
            with open(f"/proc/{pid}/comm", encoding="ascii", errors="replace") as f:
                if f.read().startswith("git"):
                    return pid
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                pid = int(f.read().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return os.getppid()


def prepare(rc: Rc, repo: str, user: str | None, u: RefUpdate) -> int:
    """The update hook, before git moves ``u.ref``: spool its builds in ``prepared/``
    (fsynced), or refuse the ref, saying why, when that cannot be done.

    Decisions that need the whole push (push options, feedback, the no-build log line)
    are post-receive's, which promotes these records; a ref refused later (by another
    check, or a lost race for the ref) leaves its record for ``settle`` to drop."""
    if u.is_delete:
        return 0
    targets, _ = config.targets_for(rc, repo)
    wanted = [(t, b) for t in targets if (b := t.wants(u.ref))]
    if not wanted:
        return 0
    from gitolite_triggers.buildkite.spool import PREPARED, Spool, SpoolError, delivery_id

    spool = Spool(config.settings(rc).spool_dir)
    if spool.ids(PREPARED):
        settle(rc, spool)
    fresh = [
        (t, b, rid)
        for t, b in wanted
        if not _known(spool, rid := delivery_id(repo, u.ref, u.new, t.name))
    ]
    if not fresh:
        return 0
    from gitolite_triggers.buildkite.payload import commit_infos
    from gitolite_triggers.repos import repo_dir

    info = commit_infos(repo_dir(rc, repo), [u.new]).get(u.new)
    if info is None or skip_marker(info.message):
        return 0  # post-receive says why
    pusher = _receive_pack()  # settle() leaves the record alone while that push runs
    written: list[str] = []
    try:
        for t, b, rid in fresh:
            rec = _record(t, b, info, rid, repo, u, user, "update")
            rec["receive_pack"] = [pusher, _process_start(pusher)]
            spool.prepare(rec)
            written.append(rid)
        spool.sync_prepared()
    except OSError as e:
        import errno

        for rid in written:
            spool.drop_prepared(rid)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        why = "no space left on the server" if full else "the build spool cannot be written"
        detail = str(e) if isinstance(e, SpoolError) else f"{e.strerror or e} ({e.filename})"
        glog.log(
            rc, "buildkite", "refused", repo, u.ref, u.new, f"cannot spool the build: {detail}"
        )
        print(
            f"FATAL: buildkite: {u.ref} was not updated: its build could not be queued ({why});"
            " push again once an admin has fixed that",
            file=sys.stderr,
        )
        return 1
    return 0


def enqueue(
    rc: Rc,
    repo: str,
    user: str | None,
    updates: list[RefUpdate],
    source: str,
    targets: list[config.Target] | None = None,
    options: list[str] | None = None,
    quiet: bool = False,
) -> list[str]:
    """Spool the builds ``updates`` call for (promoting what the update hook prepared),
    tell the pusher, start a deliverer; return the new record ids.

    One line per build for the pusher (and the URL when ``feedback_wait`` allows), one
    line per reason a ref does not build; and one log line for a push with no build."""
    if targets is None:
        targets, _ = config.targets_for(rc, repo)
    if not targets:
        return []
    from gitolite_triggers.buildkite.spool import PREPARED, Spool, delivery_id

    s = config.settings(rc)
    spool = Spool(s.spool_dir)
    opts = None
    if options:
        from gitolite_triggers.buildkite import pushopts

        opts = pushopts.parse(options)
    say: list[str] = list(opts.notes) if opts else []
    reasons: list[str] = []
    already = 0
    todo: list[tuple[RefUpdate, config.Target, str, str]] = []
    for u in updates:
        if u.is_delete:
            reasons.append(f"{_short(u.ref)} deleted")
            continue
        for t in targets:
            branch = t.wants(u.ref)
            if not branch:
                reasons.append(f"{_short(u.ref)} filtered by {t.name}")
                continue
            rid = delivery_id(repo, u.ref, u.new, t.name)
            if _known(spool, rid):
                already += 1
                spool.drop_prepared(rid)
            elif opts is not None and opts.skip:
                spool.drop_prepared(rid)
                reasons.append("push option ci.skip")
            else:
                todo.append((u, t, branch, rid))
    if opts is not None and opts.skip:
        say.append("buildkite: no builds for this push (push option ci.skip)")
    infos: dict[str, CommitInfo] = {}
    missing = [u.new for u, _, _, rid in todo if not spool.path(PREPARED, rid).exists()]
    if missing:
        from gitolite_triggers.buildkite.payload import commit_infos
        from gitolite_triggers.repos import repo_dir

        infos = commit_infos(repo_dir(rc, repo), missing)
    created: list[tuple[str, config.Target, str, str]] = []
    told_skip: set[str] = set()
    for u, t, branch, rid in todo:
        rec = spool.load(PREPARED, rid)
        if rec is None:
            info = infos.get(u.new)
            if info is None:
                glog.log(rc, "buildkite", "skip", repo, u.ref, u.new, "not a commit")
                reasons.append(f"{_short(u.ref)} is not a commit")
                continue
            rec = _record(t, branch, info, rid, repo, u, user, source)
        body = rec["body"]
        commit = str(body["commit"])
        marker = skip_marker(str(body.get("message", "")))
        if marker:
            spool.drop_prepared(rid)
            reasons.append(f"{marker} in {_short(u.ref)}")
            if u.ref not in told_skip:
                told_skip.add(u.ref)
                say.append(
                    f"buildkite: no build for {branch} ({commit[:7]}): {marker} in its commit message"
                )
            continue
        changed = False
        if opts is not None and opts.variables:
            if t.push_variables:
                env = body["env"]
                for key, value in opts.variables.items():
                    if key in t.env:  # the admin's env wins over a pusher's
                        say.append(
                            f"buildkite: ci.variable={key} ignored for {t.name}: the rc sets {key}"
                        )
                    else:
                        env[key] = value
                        changed = True
            else:
                say.append(
                    f"buildkite: push variables ignored for {t.name}: its rc entry does not say push_variables: true"
                )
        if rec.get("source") == "update" and not changed:
            ok = spool.promote(rid)  # a link: no new data
        else:
            try:
                ok = spool.add(rec, sync_dir=False)
            except OSError:
                if not spool.path(PREPARED, rid).exists():
                    raise
                ok = spool.promote(rid)  # built as prepared: better than no build
                say.append(f"buildkite: push variables dropped for {t.name}: the spool is full")
            spool.drop_prepared(rid)
        if ok:
            created.append((rid, t, branch, commit))
            glog.log(rc, "buildkite", "queued", repo, u.ref, u.new, t.name, f"id={rid}")
    if created:
        spool.sync_pending()
        for _, t, branch, commit in created:
            say.append(f"buildkite: queued {t.name} build for {branch} ({commit[:7]})")
    elif updates and not already and not quiet:
        why = "; ".join(dict.fromkeys(reasons)) or "nothing to build"
        glog.log(rc, "buildkite", "none", repo, why)
    if say and (created or not quiet):
        print("\n".join(dict.fromkeys(say)), file=sys.stderr)
    # Kick only when no deliverer holds the lock: a running one re-reads the spool while
    # it works and once more after letting go of the lock, and our record is already there.
    wait = s.feedback_wait if created else 0.0
    if rc.buildkite.get("autostart", True) and spool.has_pending() and spool.holder() is None:
        kick(rc, s.spool_dir, wait_for_session=wait <= 0)
    if wait > 0:
        _show_urls(spool, [(rid, t) for rid, t, _, _ in created], wait)
    settle(rc, spool)
    return [rid for rid, _, _, _ in created]


def _show_urls(spool: Spool, builds: list[tuple[str, config.Target]], wait: float) -> None:
    """Print each build's URL as it is created, for up to ``wait`` seconds in all."""
    deadline = time.monotonic() + wait
    left = list(builds)
    while left:
        for item in list(left):
            rec = spool.load("done", item[0])
            build = (rec or {}).get("build") or {}
            if build.get("web_url"):
                print(
                    f"buildkite: {item[1].name} build #{build.get('number')}: {build['web_url']}",
                    file=sys.stderr,
                )
                left.remove(item)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)


def settle(rc: Rc, spool: Spool) -> int:
    """Records left in ``prepared/`` by a push whose receive-pack is gone: promote those
    whose ref still points at the pushed object (its post-receive never ran or was killed
    after the ref moved), drop the rest (the ref was refused after the update hook);
    return how many were promoted.

    Runs in every update hook (before that push moves its ref: so a record of a killed
    post-receive is promoted before the next push to the same ref moves it on) and after
    every push. "Points at", not "contains": a commit of a refused push that a later
    push brings in is built as that push's tip says, not once more on its own."""
    from gitolite_triggers.buildkite.spool import PREPARED

    promoted = 0
    for rid in spool.ids(PREPARED):
        try:
            rec = spool.load(PREPARED, rid)
        except ValueError:
            rec = None
        if rec is None:
            continue
        pid, start = (rec.get("receive_pack") or [0, ""])[:2]
        if pid and start and _process_start(int(pid)) == start:
            continue  # that push is still running
        if not start and time.time() - float(rec.get("created", 0)) < 3600:
            continue  # no /proc to ask: give it an hour
        if _ref_is(rc, rec):
            promoted += spool.promote(rid)
            glog.log(rc, "buildkite", "settled", rec["repo"], rec["ref"], rec["new"], f"id={rid}")
        else:
            spool.drop_prepared(rid)
    if promoted:
        spool.sync_pending()
    return promoted


def _ref_is(rc: Rc, rec: dict[str, Any]) -> bool:
    import subprocess

    from gitolite_triggers.repos import repo_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(  # argv list
        [
            "git",
            f"--git-dir={repo_dir(rc, str(rec['repo']))}",
            "rev-parse",
            "--verify",
            "-q",
            str(rec["ref"]),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
    )
    return proc.returncode == 0 and proc.stdout.strip() == rec["new"]


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


def kick(rc: Rc, spool_dir: str, wait_for_session: bool = True) -> None:
    """Start a detached deliverer (new session, no stdio, nice 10): the pusher never waits for it.

    GIT_* (the hook's quarantine environment) is dropped; GL_* and HOME stay so it finds
    the same account. Its cwd is ``/``, never the spool. The token is never put on its
    command line.
    """
    import shutil
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.setdefault("GL_ADMIN_BASE", rc.admin_base)
    if not wait_for_session:  # the pusher waits for the URL (feedback_wait): start now
        env.pop("GL_TID", None)
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
