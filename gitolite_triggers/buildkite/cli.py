"""``gitolite-triggers buildkite ...``: the admin's view of delivery.

- ``status [--json]``: pending (attempts, next try, last error), dead letters (status,
  reason), the deliverer (pid), the most recent deliveries (build number, web URL);
  ``--json`` is the same, machine-readable;
- ``show ID``: one delivery: its request body, the last answer (status, rate-limit
  headers, body), the build, every attempt;
- ``deliver [--once] [--take-over]``: deliver now, in the foreground, printing progress
  (waits out backoff and rate limits unless ``--once``); ``--take-over`` first asks a
  running deliverer to stop (as ``restart``) and then works in its place. A failure is
  logged as well as printed;
- ``restart``: make a running deliverer let go and start a fresh one (new rc, token);
- ``retry ID...|--all-dead``: move dead letters back to pending (they are looked up by
  delivery id first, so a retry never duplicates a build that exists) and start delivery;
- ``redeliver ID``: a delivered build once more, as a new build (a new delivery id);
- ``metrics [--textfile FILE]``: the Prometheus text exposition (node_exporter's textfile
  collector), written atomically with ``--textfile``;
- ``check``: the token (file mode, ``GET /v2/access-token`` scopes) and that each
  configured pipeline exists.

Every ID may be a unique prefix, as git takes an abbreviated object name.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gitolite_triggers import glog
from gitolite_triggers.buildkite import config
from gitolite_triggers.buildkite.spool import STATES, IdError, Record, Spool
from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc, load_rc


def _ago(t: float | None) -> str:
    if not t:
        return "-"
    d = time.time() - t
    return f"{d:.0f}s ago" if d >= 0 else f"in {-d:.0f}s"


def _spool(rc: Rc) -> Spool:
    return Spool(config.settings(rc).spool_dir)


def _resolve(spool: Spool, prefix: str, states: tuple[str, ...] = STATES) -> tuple[str, Record]:
    """(state, record) for an id or unique id prefix; Fatal otherwise."""
    try:
        state, rid = spool.resolve(prefix, states)
    except IdError as e:
        raise Fatal(str(e)) from None
    rec = spool.load(state, rid)
    if rec is None:
        raise Fatal(f"delivery {rid} moved while it was read; try again")
    return state, rec


def _brief(r: Record) -> dict[str, Any]:
    b = r.get("build") or {}
    return {
        "id": r["id"],
        "repo": r["repo"],
        "ref": r["ref"],
        "commit": r["new"],
        "pipeline": f"{r['org']}/{r['pipeline']}",
        "source": r.get("source", ""),
        "created": r.get("created"),
        "attempts": r.get("attempts", 0),
        "last_error": r.get("last_error", ""),
        "next_at": r.get("next_at") or None,
        "dead": r.get("dead"),
        "delivered": r.get("delivered"),
        "skipped": r.get("skipped"),
        "build": {k: b.get(k) for k in ("number", "web_url", "state")} if b else None,
        "again_of": r.get("again_of"),
    }


def status_doc(rc: Rc, recent: int) -> dict[str, Any]:
    """What ``status`` shows, as data (``--json`` prints exactly this)."""
    spool = _spool(rc)
    pending = sorted(spool.records("pending"), key=lambda r: r.get("created", 0) or 0)
    dead = sorted(spool.records("dead"), key=lambda r: (r.get("dead") or {}).get("at", 0) or 0)
    done = sorted(spool.records("done"), key=lambda r: r.get("delivered", 0) or 0)
    holder = spool.holder()
    return {
        "spool": str(spool.root),
        "deliverer": {"running": holder is not None, "pid": int(holder) if holder else None},
        "pending": [_brief(r) for r in pending],
        "dead": [_brief(r) for r in dead],
        "done_count": len(done),
        "recent": [_brief(r) for r in reversed(done[-recent:])] if recent > 0 else [],
    }


def status(rc: Rc, recent: int, as_json: bool = False) -> int:
    doc = status_doc(rc, recent)
    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True))
        return 0
    d = doc["deliverer"]
    print(f"spool: {doc['spool']}")
    print(f"deliverer: {'running (pid ' + str(d['pid']) + ')' if d['running'] else 'not running'}")
    print(f"pending: {len(doc['pending'])}")
    for r in doc["pending"]:
        nxt = r["next_at"]
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['commit'][:12]} -> {r['pipeline']}"
            f"  attempts={r['attempts']} next={_ago(nxt) if nxt else 'now'}"
            + (f"  last error: {r['last_error']}" if r["last_error"] else "")
        )
    print(f"dead: {len(doc['dead'])}")
    for r in doc["dead"]:
        dd = r["dead"] or {}
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['commit'][:12]} -> {r['pipeline']}"
            f"  attempts={r['attempts']}  {dd.get('status')}: {dd.get('why')}"
            f"  {str(dd.get('body', ''))[:200]}"
        )
    print(f"recent deliveries ({len(doc['recent'])} of {doc['done_count']}):")
    for r in reversed(doc["recent"]):
        b = r["build"]
        what = f"build #{b['number']} {b['web_url']}" if b else f"skipped: {r['skipped'] or ''}"
        print(
            f"  {r['id']}  {r['repo']} {r['ref']} {r['commit'][:12]}  {what}"
            f"  {_ago(r['delivered'])}"
        )
    return 0


def show(rc: Rc, prefix: str) -> int:
    """One delivery: where it stands, the request body, the last answer, every attempt."""
    from gitolite_triggers.buildkite.deliver import builds_url

    state, rec = _resolve(_spool(rc), prefix)
    s = config.settings(rc)
    print(f"id: {rec['id']} ({state})")
    print(f"repo: {rec['repo']} {rec['ref']} {rec['new']}  pushed by {rec.get('user') or '-'}")
    print(f"pipeline: {rec['org']}/{rec['pipeline']}  source: {rec.get('source', '')}")
    if rec.get("again_of"):
        print(f"a new build of: {rec['again_of']}")
    print(f"attempts: {rec.get('attempts', 0)}")
    if rec.get("last_error") and state != "done":
        print(f"last error: {rec['last_error']}")
    if rec.get("build"):
        b = rec["build"]
        print(f"build: #{b.get('number')} {b.get('web_url')} ({_ago(rec.get('delivered'))})")
    if rec.get("dead"):
        print(f"dead: {rec['dead'].get('status')}: {rec['dead'].get('why')}")
    print(f"request: POST {builds_url(s.api_url, rec)}")
    print(json.dumps(rec.get("body"), indent=1, sort_keys=True, ensure_ascii=False))
    resp = rec.get("response")
    if resp:
        print(
            f"response ({resp.get('request')}, {_ago(resp.get('at'))}): HTTP {resp.get('status')}"
        )
        for k, v in sorted((resp.get("headers") or {}).items()):
            print(f"  {k}: {v}")
        body = str(resp.get("body") or "")
        try:
            body = json.dumps(json.loads(body), indent=1, sort_keys=True, ensure_ascii=False)
        except ValueError:
            pass
        print(body)
    else:
        print("response: none yet")
    print("attempts and events:")
    for line in rec.get("history") or []:
        print(f"  {line}")
    return 0


def deliver(rc: Rc, once: bool, take_over: bool = False) -> int:
    from gitolite_triggers.buildkite.deliver import Deliverer
    from gitolite_triggers.buildkite.spool import SpoolError

    d = Deliverer(rc, say=lambda m: print(m, flush=True))

    def failed(why: str) -> Fatal:
        glog.log(rc, "buildkite", "error", f"manual deliver failed: {why}")
        return Fatal(why)

    try:
        d.spool.ensure()  # an unsafe spool is refused before anything in it is read
    except SpoolError as e:
        raise failed(str(e)) from e
    n = len(d.spool.ids("pending"))
    print(f"{n} pending in {d.spool.root}", flush=True)
    if n == 0:
        return 0
    if take_over and d.spool.holder() is not None:
        print(f"asking the running deliverer (pid {d.spool.holder()}) to stop", flush=True)
        d.spool.request_restart()
        d.restart_seen = d.spool.restart_stamp()
    try:
        got = d.run(ignore_schedule=True, once=once, wait_for_lock=take_over)
    except (config.TokenError, SpoolError) as e:
        raise failed(str(e)) from e
    if got == 3:
        print(
            f"another deliverer (pid {d.spool.holder() or '?'}) is working on this spool; it"
            " will deliver the pending records (`buildkite deliver --take-over` to do it here)",
            file=sys.stderr,
        )
        return 3
    left, dead = len(d.spool.ids("pending")), len(d.spool.ids("dead"))
    print(f"done: {left} still pending, {dead} dead")
    if left:
        glog.log(rc, "buildkite", "warn", f"manual deliver: {left} still pending, {dead} dead")
    return 0 if left == 0 else 1


def restart(rc: Rc, wait: float) -> int:
    """Make a running deliverer stop between two requests, then start a fresh one."""
    from gitolite_triggers.buildkite.trigger import kick

    s = config.settings(rc)
    spool = Spool(s.spool_dir)
    pid = spool.holder()
    if pid is not None:
        spool.request_restart()
        deadline = time.monotonic() + wait
        while spool.holder() == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        if spool.holder() == pid:
            raise Fatal(
                f"the deliverer (pid {pid}) has not stopped within {wait:g}s; it will at its"
                " next request (or kill it: its records are safe in the spool)"
            )
        print(f"deliverer (pid {pid}) stopped")
    glog.log(rc, "buildkite", "restart", f"was={pid or '-'}")
    if spool.has_pending():
        kick(rc, s.spool_dir)
        print("a new deliverer is starting")
    else:
        print("nothing pending: no deliverer needed")
    return 0


def retry(rc: Rc, ids: list[str], all_dead: bool) -> int:
    s = config.settings(rc)
    spool = Spool(s.spool_dir)
    wanted = spool.ids("dead") if all_dead else ids
    if not wanted:
        print("nothing to retry")
        return 0
    bad = 0
    for prefix in wanted:
        try:
            _, rid = spool.resolve(prefix, ("dead",))
        except IdError as e:
            print(f"{prefix}: {e}", file=sys.stderr)
            bad = 1
            continue
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


def redeliver(rc: Rc, prefix: str) -> int:
    """A delivered build once more, as a new build with a new delivery id."""
    from gitolite_triggers.buildkite import rebuild

    spool = _spool(rc)
    state, rec = _resolve(spool, prefix)
    if state != "done" or not rec.get("build"):
        hint = {"dead": "; `buildkite retry` it", "pending": "; it is still to be delivered"}
        raise Fatal(f"delivery {rec['id']} is {state}, not delivered{hint.get(state, '')}")
    new = rebuild.again(spool, rec, "", "redeliver")
    glog.log(
        rc,
        "buildkite",
        "redeliver",
        rec["repo"],
        rec["ref"],
        rec["new"],
        f"id={new['id']}",
        f"of={rec['id']}",
    )
    print(f"{new['id']}: a new build of {rec['repo']} {rec['ref']} {rec['new'][:12]} queued")
    rebuild.start_delivery(rc, spool)
    return 0


def metrics_text(rc: Rc) -> bytes:
    """The spool's state in the Prometheus text exposition format (prometheus_client)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    spool = _spool(rc)
    now = time.time()
    pending = list(spool.records("pending"))
    dead = list(spool.records("dead"))
    done = list(spool.records("done"))
    reg = CollectorRegistry()
    prefix = "gitolite_triggers_buildkite_"
    Gauge(prefix + "pending", "Builds spooled and not yet created", registry=reg).set(len(pending))
    Gauge(prefix + "dead", "Builds given up on (dead letters)", registry=reg).set(len(dead))
    Gauge(
        prefix + "oldest_pending_age_seconds",
        "Age of the oldest pending build (0 when none)",
        registry=reg,
    ).set(max((now - float(r.get("created") or now) for r in pending), default=0.0))
    Gauge(
        prefix + "deliverer_running", "1 when a deliverer holds the spool lock", registry=reg
    ).set(1 if spool.holder() else 0)
    outcomes = Gauge(
        prefix + "deliveries",
        "Records in the spool by outcome (done records are kept keep_done_days)",
        ["outcome"],
        registry=reg,
    )
    created = [r for r in done if r.get("build")]
    outcomes.labels("created").set(len(created))
    outcomes.labels("skipped").set(len(done) - len(created))
    outcomes.labels("dead").set(len(dead))
    outcomes.labels("pending").set(len(pending))
    Gauge(
        prefix + "attempts",
        "Delivery attempts (lookups and POSTs) of the pending and dead records",
        registry=reg,
    ).set(sum(int(r.get("attempts") or 0) for r in pending + dead))
    Gauge(
        prefix + "last_success_timestamp_seconds",
        "When a build was last created (Unix time; 0 when never)",
        registry=reg,
    ).set(max((float(r.get("delivered") or 0) for r in created), default=0.0))
    return generate_latest(reg)


def metrics(rc: Rc, textfile: str | None) -> int:
    text = metrics_text(rc)
    if textfile:
        from gitolite_triggers.atomicfile import write_atomic

        # node_exporter reads the folder at any moment: never a half-written file
        write_atomic(textfile, text, 0o644, fsync=False)
        return 0
    sys.stdout.buffer.write(text)
    return 0


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
        description="Buildkite build delivery: the spool's state, delivery by hand, retries,"
        " metrics, a check of the token and pipelines. An ID may be a unique prefix.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    st = sub.add_parser("status", help="pending, dead, the deliverer and recent deliveries")
    st.add_argument(
        "-n",
        "--recent",
        type=int,
        default=10,
        metavar="N",
        help="how many recent deliveries to list (default: %(default)s)",
    )
    st.add_argument("--json", action="store_true", help="machine-readable output")
    sh = sub.add_parser("show", help="one delivery: request body, response, attempts")
    sh.add_argument("id", metavar="ID", help="a delivery id or a unique prefix of one")
    dv = sub.add_parser("deliver", help="deliver now, in the foreground")
    dv.add_argument("--once", action="store_true", help="one attempt per pending record, then exit")
    dv.add_argument(
        "--take-over",
        action="store_true",
        help="ask a running deliverer to stop and deliver here instead",
    )
    rs = sub.add_parser("restart", help="make a running deliverer stop; start a fresh one")
    rs.add_argument(
        "--wait", type=float, default=60.0, metavar="S", help="seconds to wait for it to stop"
    )
    rt = sub.add_parser("retry", help="move dead letters back to pending")
    rt.add_argument("ids", nargs="*", metavar="ID", help="delivery ids, as `status` lists them")
    rt.add_argument("--all-dead", action="store_true", help="every dead letter")
    rd = sub.add_parser("redeliver", help="a delivered build once more, as a new build")
    rd.add_argument("id", metavar="ID", help="a delivery id or a unique prefix of one")
    mt = sub.add_parser("metrics", help="Prometheus text exposition of the spool's state")
    mt.add_argument(
        "--textfile",
        metavar="FILE",
        help="write it atomically to FILE (node_exporter's textfile collector) instead",
    )
    sub.add_parser("check", help="verify the token's scopes and the configured pipelines")
    a = p.parse_args(argv)
    rc = load_rc()
    if a.action == "status":
        return status(rc, a.recent, a.json)
    if a.action == "show":
        return show(rc, a.id)
    if a.action == "deliver":
        return deliver(rc, a.once, a.take_over)
    if a.action == "restart":
        return restart(rc, a.wait)
    if a.action == "retry":
        if not a.ids and not a.all_dead:
            p.error("retry needs IDs or --all-dead")
        return retry(rc, a.ids, a.all_dead)
    if a.action == "redeliver":
        return redeliver(rc, a.id)
    if a.action == "metrics":
        return metrics(rc, a.textfile)
    return check(rc)
