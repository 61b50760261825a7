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


def of_tip(rc: Rc, repo: str, ref: str, tip: str, user: str) -> list[Record]:
    """Spool a new build of ``tip`` (the ref's current commit) in every pipeline that builds
    this ref (fan-out, as a push does); empty when none does (no target, or every
    target's branch/tag filters leave the ref out)."""
    from gitolite_triggers.buildkite.payload import build_body, commit_infos
    from gitolite_triggers.repos import repo_path

    targets, _ = config.targets_for(rc, repo)
    wanted = [(t, b) for t in targets if (b := t.wants(ref)) is not None]
    if not wanted:
        return []
    info = commit_infos(str(repo_path(rc, repo)), [tip]).get(tip)
    if info is None:
        return []
    spool = Spool(config.settings(rc).spool_dir)
    made: list[Record] = []
    for target, branch in wanted:
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
        if not spool.add(rec):
            raise OSError(f"delivery id {rid} already exists")
        made.append(rec)
    return made


def start_delivery(rc: Rc, spool: Spool) -> None:
    """Kick a deliverer unless one holds the lock (it will see the new record) or the rc
    says ``autostart: false`` (as for a push's records).

    The kicked deliverer would wait for the session in GL_TID to end before it works (so a
    push never waits for it); a command that wants the URL while its user waits must not
    make it wait for itself, so it starts at once.
    """
    from gitolite_triggers.buildkite.trigger import kick

    if not rc.buildkite.get("autostart", True) or spool.holder() is not None:
        return
    kick(rc, str(spool.root), wait_for_session=False)
