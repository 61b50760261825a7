"""``ssh git@host build REPO REF``: a new Buildkite build of REF's current tip.

For users who can write REF (W at that ref). A reader is refused with gitolite's push
denial text (``W refs/heads/main foo bob DENIED by fallthru``), anyone else with the
generic "repo does not exist, or you are not authorised". The build is a new spool
record with a fresh delivery id (buildkite/rebuild.py), so it is made even when the
commit has built before; the command waits up to URL_WAIT seconds for the deliverer to
create it and prints its URL, else says it is queued. Loaded only when the command runs.
"""

from __future__ import annotations

import os
import sys
import time

from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc
from gitolite_triggers.shell.cmd_builds import NOT_AUTHORISED, readable_repo

URL_WAIT = 5.0
# A writer may queue this many `build`s not yet delivered; more would let one user grow
# the spool and the CI bill without bound (a push builds once per commit; this does not).
MAX_QUEUED_PER_USER = 5
USAGE = """\
build -- start a new Buildkite build of a ref's current commit.

Usage:  ssh git@host build <repo> <ref>

<ref> is a branch or tag name, or a full refs/... name. You need write access to it.
"""


def _resolve(git_dir: str, name: str) -> tuple[str, str] | None:
    """(full ref, commit) for a branch/tag name or full ref that exists, else None."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    candidates = [name] if name.startswith("refs/") else [f"refs/heads/{name}", f"refs/tags/{name}"]
    for ref in candidates:
        ok = subprocess.run(["git", "check-ref-format", ref], capture_output=True, env=env)
        if ok.returncode != 0:
            continue
        got = subprocess.run(
            [
                "git",
                f"--git-dir={git_dir}",
                "rev-parse",
                "-q",
                "--verify",
                "--end-of-options",
                f"{ref}^{{commit}}",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if got.returncode == 0 and got.stdout.strip():
            return ref, got.stdout.strip()
    return None


def run(rc: Rc, user: str | None, args: list[str]) -> int:
    if not user:  # `gitolite build` in the account's shell: no user to check rights for
        raise Fatal("GL_USER not set")
    if len(args) != 2 or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args[:1] in (["-h"], ["--help"]) else 1
    repo, name = args
    readable_repo(rc, repo, user)
    from gitolite_triggers.conf.errors import AccessError
    from gitolite_triggers.conf.query import access, is_denied
    from gitolite_triggers.glog import escape, log
    from gitolite_triggers.names import is_ref
    from gitolite_triggers.repos import repo_path

    if not is_ref(name) or ".." in name:
        raise Fatal(f"invalid ref '{escape(name)}'")
    found = _resolve(str(repo_path(rc, repo)), name)
    # The write check names the real ref when there is one (so the rules' refexes apply).
    ref = found[0] if found else (name if name.startswith("refs/") else f"refs/heads/{name}")
    try:
        result = access(rc, repo, user, "W", ref)
    except AccessError:
        raise Fatal(NOT_AUTHORISED) from None
    if is_denied(result):
        raise Fatal(result)
    if found is None:
        raise Fatal(f"no ref '{escape(name)}' in {repo}")
    from gitolite_triggers.buildkite import config, rebuild
    from gitolite_triggers.buildkite.spool import Spool

    ref, tip = found
    queued = sum(
        1
        for r in Spool(config.settings(rc).spool_dir).records("pending")
        if r.get("source") == "ssh-build" and r.get("user") == user
    )
    if queued >= MAX_QUEUED_PER_USER:
        raise Fatal(
            f"buildkite: you have {queued} builds queued already (at most {MAX_QUEUED_PER_USER});"
            f" `ssh git@host builds {repo}` shows them"
        )
    recs = rebuild.of_tip(rc, repo, ref, tip, user)
    if not recs:
        raise Fatal(f"buildkite: no pipeline builds {ref} of {repo}")
    for rec in recs:
        log(rc, "buildkite", "build", repo, ref, tip, user, f"id={rec['id']}")
    spool = Spool(config.settings(rc).spool_dir)
    rebuild.start_delivery(rc, spool)
    for rec in recs:
        branch = escape(str(rec["body"]["branch"]))
        sys.stdout.write(
            f"buildkite: queued {rec['org']}/{rec['pipeline']} build for {branch} ({tip[:7]})\n"
        )
    sys.stdout.flush()
    waiting = {rec["id"] for rec in recs}
    deadline = time.monotonic() + URL_WAIT
    while waiting and time.monotonic() < deadline:
        for rid in sorted(waiting):
            done = spool.load("done", rid)
            if done is not None:
                build = done.get("build") or {}
                sys.stdout.write(
                    f"buildkite: build #{build.get('number')} {build.get('web_url')}\n"
                )
                waiting.discard(rid)
            elif spool.load("dead", rid) is not None:
                raise Fatal("buildkite: Buildkite refused the build; ask an admin")
        if waiting:
            time.sleep(0.05)
    if waiting:
        sys.stdout.write(
            f"buildkite: not created yet; `ssh git@host builds {repo}` shows it later\n"
        )
    return 0
