"""A deliberate second build: a new spool record, past the one-build-per-commit rule.

The push path names a record after (repo, ref, commit), so one commit builds once however
often its push fires. An admin's ``buildkite redeliver ID`` and a writer's ``ssh git@host
build REPO REF`` want exactly the opposite: another build of a commit that has one. Both
come here, get a fresh id (``spool.rebuild_id``), and go through the same spool and
deliverer as a push's build, so they are as durable and exactly-once as any other.
"""

from __future__ import annotations

import copy
import time

from gitolite_triggers.buildkite import config
from gitolite_triggers.buildkite.spool import Record, Spool, rebuild_id
from gitolite_triggers.rc import Rc


def again(spool: Spool, rec: Record, user: str, source: str) -> Record:
    """Spool a copy of ``rec`` (same commit, pipeline and body) as a new build."""
    rid = rebuild_id(rec["repo"], rec["ref"], rec["new"])
    body = copy.deepcopy(rec["body"])
    meta = body.setdefault("meta_data", {})
    meta[config.DELIVERY_KEY] = rid
    if user:
        meta["gitolite_user"] = user
    new: Record = {k: rec[k] for k in ("repo", "ref", "old", "new", "org", "pipeline")}
    new.update(
        id=rid,
        user=user or rec.get("user", ""),
        source=source,  # never "update": the commit is known to be on the ref
        again_of=rec["id"],
        body=body,
        created=time.time(),
        attempts=0,
        next_at=0.0,
        maybe_posted=False,
        history=[],
    )
    if not spool.add(new):
        raise OSError(f"delivery id {rid} already exists")  # a 128-bit collision: never
    return new


def of_tip(rc: Rc, repo: str, ref: str, tip: str, user: str) -> Record | None:
    """Spool a new build of ``tip`` (the ref's current commit), or None when no pipeline
    builds this ref (no target, or its branch/tag filters leave the ref out)."""
    from gitolite_triggers.buildkite.payload import build_body, commit_infos
    from gitolite_triggers.repos import repo_path

    target = config.target_for(rc, repo)
    branch = target.wants(ref) if target else None
    if target is None or branch is None:
        return None
    info = commit_infos(str(repo_path(rc, repo)), [tip]).get(tip)
    if info is None:
        return None
    rid = rebuild_id(repo, ref, tip)
    rec: Record = {
        "id": rid,
        "repo": repo,
        "ref": ref,
        "old": tip,
        "new": tip,
        "user": user,
        "source": "ssh-build",
        "org": target.org,
        "pipeline": target.pipeline,
        "body": build_body(target, branch, info, rid, repo, ref, user),
        "created": time.time(),
        "attempts": 0,
        "next_at": 0.0,
        "maybe_posted": False,
        "history": [],
    }
    spool = Spool(config.settings(rc).spool_dir)
    if not spool.add(rec):
        raise OSError(f"delivery id {rid} already exists")
    return rec


def start_delivery(rc: Rc, spool: Spool) -> None:
    """Kick a deliverer unless one holds the lock (it will see the new record) or the rc
    says ``autostart: false`` (as for a push's records).

    The kicked deliverer waits for the session in GL_TID to end before it works (so a
    push never waits for it); a command that wants the URL while its user waits must not
    make it wait for itself, so GL_TID is left out for this one kick.
    """
    import os

    from gitolite_triggers.buildkite.trigger import kick

    if not rc.buildkite.get("autostart", True) or spool.holder() is not None:
        return
    tid = os.environ.pop("GL_TID", None)
    try:
        kick(rc, str(spool.root))
    finally:
        if tid is not None:
            os.environ["GL_TID"] = tid
