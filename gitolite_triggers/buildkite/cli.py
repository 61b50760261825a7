"""``gitolite-triggers buildkite status|deliver|retry|check``: the admin's view of delivery.

- ``status``: pending (attempts, next try, last error), dead letters (status, reason),
  the most recent deliveries (build number, web URL);
- ``deliver [--once]``: deliver now, in the foreground, printing progress (waits out
  backoff and rate limits unless ``--once``);
- ``retry ID...|--all-dead``: move dead letters back to pending (they are looked up by
  delivery id first, so a retry never duplicates a build that exists) and start delivery;
- ``check``: the token (file mode, ``GET /v2/access-token`` scopes) and that each
  configured pipeline exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from gitolite_triggers.buildkite import config
from gitolite_triggers.buildkite.spool import Spool
from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc, load_rc


def _ago(t: float | None) -> str:
    if not t:
        return "-"
    d = time.time() - t
    return f"{d:.0f}s ago" if d >= 0 else f"in {-d:.0f}s"


def status(rc: Rc, recent: int) -> int:
    spool = Spool(config.settings(rc).spool_dir)
    pending = list(spool.records("pending"))
    dead = list(spool.records("dead"))
    done = sorted(spool.records("done"), key=lambda r: r.get("delivered", 0) or 0)
    holder = spool.holder()
    print(f"spool: {spool.root}")
    print(f"deliverer: {'running (pid ' + holder + ')' if holder else 'not running'}")
    print(f"pending: {len(pending)}")
    for r in pending:
        nxt = r.get("next_at", 0)
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['new'][:12]} -> {r['org']}/{r['pipeline']}  attempts={r.get('attempts', 0)} next={_ago(nxt) if nxt else 'now'}  {r.get('last_error', '')}"
        )
    print(f"dead: {len(dead)}")
    for r in dead:
        d = r.get("dead", {})
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['new'][:12]} -> {r['org']}/{r['pipeline']}  {d.get('status')}: {d.get('why')}  {str(d.get('body', ''))[:200]}"
        )
    print(f"recent deliveries ({min(recent, len(done))} of {len(done)}):")
    for r in done[-recent:]:
        b = r.get("build") or {}
        what = (
            f"build #{b.get('number')} {b.get('web_url')}"
            if b
            else f"skipped: {r.get('skipped', '')}"
        )
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['new'][:12]}  {what}  {_ago(r.get('delivered'))}"
        )
    return 0


def deliver(rc: Rc, once: bool) -> int:
    from gitolite_triggers.buildkite.deliver import Deliverer
    from gitolite_triggers.buildkite.spool import SpoolError

    d = Deliverer(rc, say=lambda m: print(m, flush=True))
    try:
        d.spool.ensure()  # an unsafe spool is refused before anything in it is read
    except SpoolError as e:
        raise Fatal(str(e)) from e
    n = len(d.spool.ids("pending"))
    print(f"{n} pending in {d.spool.root}", flush=True)
    if n == 0:
        return 0
    try:
        got = d.run(ignore_schedule=True, once=once)
    except (config.TokenError, SpoolError) as e:
        raise Fatal(str(e)) from e
    if got == 3:
        print(
            f"another deliverer (pid {d.spool.holder() or '?'}) is working on this spool; it will deliver the pending records",
            file=sys.stderr,
        )
        return 3
    left, dead = len(d.spool.ids("pending")), len(d.spool.ids("dead"))
    print(f"done: {left} still pending, {dead} dead")
    return 0 if left == 0 else 1


def retry(rc: Rc, ids: list[str], all_dead: bool) -> int:
    s = config.settings(rc)
    spool = Spool(s.spool_dir)
    wanted = spool.ids("dead") if all_dead else ids
    if not wanted:
        print("nothing to retry")
        return 0
    bad = 0
    for rid in wanted:
        rec = spool.load("dead", rid)
        if rec is None:
            print(f"{rid}: no such dead letter", file=sys.stderr)
            bad = 1
            continue
        rec.pop("dead", None)
        rec.update(attempts=0, failures=0, next_at=0.0, created=time.time())
        spool.move(rec, "dead", "pending")
        print(f"{rid}: back to pending ({rec['repo']} {rec['ref']})")
    from gitolite_triggers.buildkite.trigger import kick

    kick(rc, s.spool_dir)
    return bad


def _targets(rc: Rc) -> list[tuple[str, str, str]]:
    """(org, pipeline, where it is configured) for the rc and every repo's options."""
    out = [
        (str(p.get("org")), str(p.get("pipeline")), f"rc pipelines[{i}]")
        for i, p in enumerate(rc.buildkite.get("pipelines") or [])
    ]
    try:
        from gitolite_triggers.conf.query import conf_repos, options_for

        for repo in conf_repos(rc):
            value = options_for(rc, repo).get("buildkite.pipeline")
            if value and "/" in value:
                org, _, pipe = value.strip().partition("/")
                out.append((org, pipe, f"option buildkite.pipeline of {repo}"))
    except Exception:  # rules not compiled yet: check the rc's only
        pass
    seen: dict[tuple[str, str], str] = {}
    for org, pipe, where in out:
        seen.setdefault((org, pipe), where)
    return [(o, p, w) for (o, p), w in seen.items()]


def check(rc: Rc) -> int:
    import requests

    from gitolite_triggers import linear_re

    s = config.settings(rc)
    regex_bad = 0
    for i, entry in enumerate(rc.buildkite.get("pipelines") or []):
        try:
            linear_re.compile(str(entry.get("repos", "")))  # what target_for() matches with
        except linear_re.RegexError as e:
            print(
                f"FAIL rc buildkite.pipelines[{i}].repos: {entry.get('repos')!r} is not a valid regex ({e}); that entry never matches"
            )
            regex_bad = 1
    for problem in config.option_problems(rc):  # rules compiled before compile checked them
        print(f"FAIL {problem}; that repo does not build")
        regex_bad = 1
    try:
        token = config.load_token(s)
    except config.TokenError as e:
        print(f"FAIL token: {e}")
        return 1
    print(f"ok   token: from {s.token_file or '$' + config.TOKEN_ENV}")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    timeouts = (s.connect_timeout, s.read_timeout)
    bad = 0
    try:
        r = http.get(f"{s.api_url}/access-token", timeout=timeouts)
    except requests.RequestException as e:
        print(f"FAIL {s.api_url}/access-token: {type(e).__name__}: {e}")
        return 1
    if r.status_code != 200:
        print(f"FAIL access token: HTTP {r.status_code} {r.text[:300]}")
        return 1
    info: dict[str, Any] = r.json()
    scopes = info.get("scopes") or []
    print(
        f"ok   access token {info.get('uuid')} of {(info.get('user') or {}).get('name')}, scopes: {' '.join(scopes)}"
        + (f", expires {info['expires_at']}" if info.get("expires_at") else "")
    )
    if "write_builds" not in scopes:
        print("FAIL token lacks the write_builds scope: it cannot create builds")
        bad = 1
    if "read_builds" not in scopes:
        print(
            "warn token lacks read_builds: after a lost response the deliverer cannot look for the build it may have made, so a retry may duplicate it"
        )
    targets = _targets(rc)
    if not targets:
        print("warn no pipelines configured (rc buildkite.pipelines or option buildkite.pipeline)")
    for org, pipe, where in targets:
        base = f"{s.api_url}/organizations/{org}/pipelines/{pipe}"
        try:
            r = http.get(base, timeout=timeouts)
            if r.status_code == 403:  # no read_pipelines: listing builds proves it exists too
                r = http.get(base + "/builds", params={"per_page": "1"}, timeout=timeouts)
        except requests.RequestException as e:
            print(f"FAIL pipeline {org}/{pipe} ({where}): {type(e).__name__}")
            bad = 1
            continue
        if r.status_code == 200:
            print(f"ok   pipeline {org}/{pipe} ({where})")
        else:
            print(f"FAIL pipeline {org}/{pipe} ({where}): HTTP {r.status_code} {r.text[:200]}")
            bad = 1
    return bad or regex_bad


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="gitolite-triggers buildkite",
        description="Buildkite build delivery: the spool's state, delivery by hand, retries, a"
        " check of the token and pipelines.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    st = sub.add_parser("status", help="pending, dead and recent deliveries")
    st.add_argument(
        "-n",
        "--recent",
        type=int,
        default=10,
        metavar="N",
        help="how many recent deliveries to list (default: %(default)s)",
    )
    dv = sub.add_parser("deliver", help="deliver now, in the foreground")
    dv.add_argument("--once", action="store_true", help="one attempt per pending record, then exit")
    rt = sub.add_parser("retry", help="move dead letters back to pending")
    rt.add_argument("ids", nargs="*", metavar="ID", help="delivery ids, as `status` lists them")
    rt.add_argument("--all-dead", action="store_true", help="every dead letter")
    sub.add_parser("check", help="verify the token's scopes and the configured pipelines")
    a = p.parse_args(argv)
    rc = load_rc()
    if a.action == "status":
        return status(rc, a.recent)
    if a.action == "deliver":
        return deliver(rc, a.once)
    if a.action == "retry":
        if not a.ids and not a.all_dead:
            p.error("retry needs IDs or --all-dead")
        return retry(rc, a.ids, a.all_dead)
    return check(rc)
