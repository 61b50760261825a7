"""The deliverer: turn pending spool records into Buildkite builds, exactly once each.

Runs detached (``python -I -S -c ...`` with a baked import path, cwd ``/``, started by
the trigger: trigger.deliverer_argv)
or in the foreground (``gitolite-triggers buildkite deliver``). One at a time per spool
(flock); it works until nothing is pending, then exits, re-checking after letting go of
the lock so a record spooled meanwhile is never stranded.

Per record (reference A.3-A.6):

- before every POST the record is saved with ``maybe_posted`` set, so after a crash,
  timeout, dropped connection or 5xx the next attempt first asks Buildkite for a build
  carrying our delivery id (``GET .../builds?meta_data[...]=id``) and adopts it instead
  of creating a second one;
- 201: moved to done/, build number and web_url logged;
- 429: wait ``max(RateLimit-Reset, RateLimit-User-Reset)`` (capped), then again;
- 5xx, timeouts, connection errors: exponential backoff with jitter, until
  ``give_up_after`` since the push (then dead/ with the last error);
- 400/401/403/404/422 (any other 4xx): dead/ with the status and body, and a log line.

The token is read once per run (config.load_token), sent only in the Authorization
header, and never logged or written to the spool. A token that cannot be read is a failed
attempt of every pending record (counted, its reason in ``last_error``) and ends the run.

A running deliverer follows the rc: between records (at most every RC_CHECK_INTERVAL s) it
re-reads the rc cache (a stat of the sources and, when changed, one ``marshal`` load) and
takes a new ``api_url``, token file, timeouts or retry settings from the next request on;
a broken rc keeps the last good one (logged once). ``buildkite restart`` (spool.py's
restart flag) makes it let go of the lock and exit between two requests, so a new one
(or a foreground ``buildkite deliver --take-over``) starts with everything fresh.
Every run logs one ``deliverer done`` line with its request and wake-up counts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from gitolite_triggers import glog
from gitolite_triggers.buildkite import config
from gitolite_triggers.buildkite.spool import Record, Spool
from gitolite_triggers.rc import Rc, load_rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    import requests

CRASH_ENV = "GITOLITE_TRIGGERS_BK_CRASH_AT"  # tests: SIGKILL ourselves at a named point
RC_CHECK_INTERVAL = 0.5  # seconds between two looks at the rc cache
HISTORY_KEPT = 100  # every attempt of a record, within reason


class RestartRequested(Exception):
    """``buildkite restart`` asked this deliverer to stop; run() lets go of the lock."""


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _body_text(resp: requests.Response, limit: int = 2000) -> str:
    try:
        text = resp.text
    except Exception:
        return ""
    return text if len(text) <= limit else text[:limit] + "..."


def _header_int(resp: requests.Response, name: str) -> int | None:
    value = resp.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def builds_url(api_url: str, rec: Record) -> str:
    """``.../organizations/ORG/pipelines/SLUG/builds`` for a record (names quoted)."""
    org, pipe = quote(rec["org"], safe=""), quote(rec["pipeline"], safe="")
    return f"{api_url}/organizations/{org}/pipelines/{pipe}/builds"


class Deliverer:
    """Delivers one spool's pending records; ``say`` reports progress (foreground mode)."""

    def __init__(self, rc: Rc, say: Callable[[str], None] | None = None) -> None:
        self.rc = rc
        self.s = config.settings(rc)
        self.spool = Spool(self.s.spool_dir)
        self.say = say or (lambda _msg: None)
        self.session: requests.Session | None = None
        self.token = ""
        self.not_before = 0.0  # global pause after a 429 or an exhausted rate limit
        self.tried: set[str] = set()  # record ids attempted in this run
        self.requests = 0  # HTTP requests sent in this run
        self.wakeups = 0  # sleeps ended in this run: the busy-loop meter
        self.restart_seen = self.spool.restart_stamp()
        self.rc_checked = time.monotonic()
        self._rc_broken = ""  # the last rc error logged (once each)

    # ------------------------------------------------------------------ plumbing
    def log(self, *fields: str) -> None:
        glog.log(self.rc, "buildkite", *fields)

    def _http(self) -> requests.Session:
        if self.session is None:
            import requests

            self.token = config.load_token(self.s)
            self.session = requests.Session()
            self.session.headers.update(
                {
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                    "User-Agent": "gitolite-triggers-buildkite",
                }
            )
        return self.session

    def follow_rc(self) -> None:
        """Take a changed rc's buildkite settings (see the module's docstring)."""
        now = time.monotonic()
        if now - self.rc_checked < RC_CHECK_INTERVAL:
            return
        self.rc_checked = now
        if self.spool.restart_stamp() != self.restart_seen:
            self.log("deliverer", "restart requested; letting go of the spool")
            raise RestartRequested
        from gitolite_triggers.errors import RcError

        try:
            rc = load_rc()
        except RcError as e:
            if self._rc_broken != str(e):
                self._rc_broken = str(e)
                self.log("warn", f"the rc does not load ({e}); delivering with the last good one")
            return
        self._rc_broken = ""
        if rc.buildkite == self.rc.buildkite:
            return
        new = config.settings(rc)
        self.rc = rc
        if new.spool_dir != self.s.spool_dir:
            self.log("deliverer", f"spool_dir changed to {new.spool_dir}; handing over")
            raise RestartRequested
        changed = [k for k in vars(new) if getattr(new, k) != getattr(self.s, k)]
        if new.api_url != self.s.api_url:
            self.not_before = 0.0  # another server's rate limit
        self.s = new
        self.session = None  # the next request reads the token and api_url again
        self.log("deliverer", f"rc changed ({' '.join(changed) or 'pipelines'}); using it")
        self.say(f"rc changed ({' '.join(changed) or 'pipelines'}); using it")

    def _builds_url(self, rec: Record) -> str:
        return builds_url(self.s.api_url, rec)

    def _timeouts(self) -> tuple[float, float]:
        return (self.s.connect_timeout, self.s.read_timeout)

    def _backoff(self, rec: Record) -> float:
        n: int = max(1, rec.get("failures", 1))
        base: float = min(self.s.max_delay, self.s.initial_delay * (2 ** (n - 1)))
        return base * random.uniform(0.5, 1.0)  # jitter, not crypto

    def _note(self, rec: Record, what: str) -> None:
        rec.setdefault("history", []).append(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {what}")
        rec["history"] = rec["history"][-HISTORY_KEPT:]
        rec["last_error"] = what

    def _answer(self, rec: Record, resp: requests.Response, what: str) -> None:
        """Keep the last answer on the record, for ``buildkite show``."""
        rec["response"] = {
            "request": what,
            "status": resp.status_code,
            "at": time.time(),
            "headers": {k: v for k, v in resp.headers.items() if k.lower().startswith("ratelimit")},
            "body": _body_text(resp, 4000),
        }

    def _pace(self, resp: requests.Response) -> None:
        """Honour an exhausted rate limit even on a successful answer."""
        for rem, reset in (
            ("RateLimit-Remaining", "RateLimit-Reset"),
            ("RateLimit-User-Remaining", "RateLimit-User-Reset"),
        ):
            if _header_int(resp, rem) == 0:
                wait = min(float(_header_int(resp, reset) or 1), self.s.max_rate_limit_wait)
                self.not_before = max(self.not_before, time.time() + wait)

    # ------------------------------------------------------------------ outcomes
    def _done(self, rec: Record, build: dict[str, Any], how: str) -> None:
        rec["build"] = {k: build.get(k) for k in ("id", "number", "url", "web_url", "state")}
        rec["delivered"] = time.time()
        rec.pop("last_error", None)
        self._note(rec, how)
        _crash_point("before_done")
        self.spool.save("done", rec)
        _crash_point("after_done_write")
        self.spool.path("pending", rec["id"]).unlink(missing_ok=True)
        self.log(
            "delivered",
            rec["repo"],
            rec["ref"],
            rec["new"],
            f"build #{build.get('number')}",
            str(build.get("web_url")),
            how,
        )
        self.say(
            f"{rec['id']}: {rec['repo']} {rec['ref']} -> build #{build.get('number')} {build.get('web_url')} ({how})"
        )

    def _dead(self, rec: Record, status: int | str, body: str, why: str) -> None:
        rec["dead"] = {"status": status, "body": body, "why": why, "at": time.time()}
        self._note(rec, f"dead: {why}")
        self.spool.move(rec, "pending", "dead")
        self.log(
            "dead",
            rec["repo"],
            rec["ref"],
            rec["new"],
            f"{rec['org']}/{rec['pipeline']}",
            f"status={status}",
            why,
            body.replace("\n", " ")[:500],
        )
        self.say(f"{rec['id']}: {rec['repo']} {rec['ref']} DEAD ({why}): {status} {body[:300]}")

    def _later(self, rec: Record, delay: float, why: str) -> None:
        if time.time() - rec.get("created", time.time()) > self.s.give_up_after:
            self._dead(rec, "gave up", "", f"still failing after {self.s.give_up_after:g}s: {why}")
            return
        rec["next_at"] = time.time() + delay
        self._note(rec, why)
        self.spool.save("pending", rec)
        self.log("retry", rec["repo"], rec["ref"], rec["new"], why, f"in {delay:.1f}s")
        self.say(f"{rec['id']}: {rec['repo']} {rec['ref']}: {why}; retrying in {delay:.1f}s")

    # ------------------------------------------------------------------ one record
    def _commit_arrived(self, rec: Record) -> bool | None:
        """For records spooled by the update hook, before git moved the ref: did it?

        True once the ref contains the commit; None (ask again soon) within
        ``commit_grace`` of the push; then False (the push was rejected after us).
        git migrates a push's objects before the update hooks run, so the object being
        there proves nothing; the ref is what counts.
        """
        from gitolite_triggers.repos import repo_path

        git_dir = str(repo_path(self.rc, rec["repo"]))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        proc = subprocess.run(  # argv list
            [
                "git",
                f"--git-dir={git_dir}",
                "merge-base",
                "--is-ancestor",
                rec["body"]["commit"],
                rec["ref"],
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
        )
        if proc.returncode == 0:
            return True
        return None if time.time() - rec["created"] < self.s.commit_grace else False

    def deliver_one(self, rec: Record) -> None:
        import requests

        if (
            self.spool.path("done", rec["id"]).exists()
            or self.spool.path("dead", rec["id"]).exists()
        ):
            # A crash between writing done/ and unlinking pending/: finish the move.
            self.spool.path("pending", rec["id"]).unlink(missing_ok=True)
            return
        if rec.get("source") == "update":
            arrived = self._commit_arrived(rec)
            if arrived is None:
                rec["next_at"] = time.time() + 1.0
                self.spool.save("pending", rec)
                return
            if arrived is False:
                rec["skipped"] = (
                    f"the ref never got the pushed commit (push rejected?) within {self.s.commit_grace:g}s"
                )
                self._note(rec, "skipped: the push did not update the ref")
                self.spool.move(rec, "pending", "done")
                self.log(
                    "skip", rec["repo"], rec["ref"], rec["new"], "the push did not update the ref"
                )
                return
        try:
            http = self._http()
        except config.TokenError as e:
            self._token_failed(e)
            raise
        url = self._builds_url(rec)
        if rec.get("maybe_posted"):
            key = f"meta_data[{config.DELIVERY_KEY}]"
            self.requests += 1
            try:
                resp = http.get(
                    url, params={key: rec["id"], "per_page": "5"}, timeout=self._timeouts()
                )
            except requests.RequestException as e:
                rec["attempts"] = rec.get("attempts", 0) + 1  # a failed lookup is an attempt
                rec["failures"] = rec.get("failures", 0) + 1
                self._later(rec, self._backoff(rec), f"lookup failed: {type(e).__name__}")
                return
            self._pace(resp)
            self._answer(rec, resp, "lookup")
            if resp.status_code == 200:
                try:
                    listed = resp.json()
                except ValueError:
                    listed = []
                found = [
                    b
                    for b in listed
                    if isinstance(b, dict)
                    and (b.get("meta_data") or {}).get(config.DELIVERY_KEY) == rec["id"]
                ]
                if found:
                    self._done(rec, found[-1], "found the build an earlier attempt created")
                    return
            elif resp.status_code == 429 or resp.status_code >= 500:
                rec["attempts"] = rec.get("attempts", 0) + 1
                self._rate_or_backoff(rec, resp, "lookup")
                return
            else:
                self.log(
                    "warn",
                    rec["repo"],
                    rec["ref"],
                    f"cannot look for an earlier build (HTTP {resp.status_code}); posting again may duplicate",
                )
        before = rec.get("maybe_posted", False)
        rec["attempts"] = rec.get("attempts", 0) + 1
        rec["maybe_posted"] = True
        self.spool.save("pending", rec)  # durable before the request leaves
        _crash_point("before_post")
        self.requests += 1
        try:
            resp = http.post(url, json=rec["body"], timeout=self._timeouts())
        except requests.RequestException as e:
            rec["failures"] = rec.get("failures", 0) + 1
            self._later(rec, self._backoff(rec), f"POST failed: {type(e).__name__}")
            return
        _crash_point("after_post")
        self._pace(resp)
        self._answer(rec, resp, "POST")
        status = resp.status_code
        if status == 201:
            try:
                build = resp.json()
            except ValueError:
                build = {}
            self._done(rec, build if isinstance(build, dict) else {}, "created")
        elif status == 429:
            rec["maybe_posted"] = before  # refused: this attempt created nothing
            self._rate_or_backoff(rec, resp, "POST")
        elif 400 <= status < 500:
            rec["maybe_posted"] = before
            self._dead(
                rec, status, _body_text(resp), f"Buildkite refused the build (HTTP {status})"
            )
        else:
            rec["failures"] = rec.get("failures", 0) + 1
            self._later(rec, self._backoff(rec), f"POST answered HTTP {status}")

    def _token_failed(self, e: config.TokenError) -> None:
        """No usable token: a failed attempt of every pending record (counted, the reason
        kept for ``status``), logged; the run then ends (an admin must fix the token; the
        next push, ``deliver`` or the systemd timer tries again, at once)."""
        why = f"no token: {e}"
        for rec in self.spool.records("pending"):
            rec["attempts"] = rec.get("attempts", 0) + 1
            self._note(rec, why)
            self.spool.save("pending", rec)
        self.log("error", f"cannot deliver: {e}; records stay in {self.spool.dir('pending')}")

    def _rate_or_backoff(self, rec: Record, resp: requests.Response, what: str) -> None:
        if resp.status_code == 429:
            resets = [
                v
                for v in (
                    _header_int(resp, "RateLimit-Reset"),
                    _header_int(resp, "RateLimit-User-Reset"),
                )
                if v is not None
            ]
            if not resets:
                try:
                    resets = [int(resp.json().get("reset"))]
                except (ValueError, TypeError, AttributeError):
                    resets = []
            # at least 1 s: a "reset in 0 s" answer must not turn into a busy loop
            wait = min(
                max(1.0, float(max(resets))) if resets else self._backoff(rec),
                self.s.max_rate_limit_wait,
            )
            wait += random.uniform(0, 0.25)
            self.not_before = max(self.not_before, time.time() + wait)
            self._later(rec, wait, f"{what} rate limited (429)")
        else:
            rec["failures"] = rec.get("failures", 0) + 1
            self._later(rec, self._backoff(rec), f"{what} answered HTTP {resp.status_code}")

    # ------------------------------------------------------------------ the loop
    def run_locked(self, ignore_schedule: bool = False, once: bool = False) -> None:
        """Deliver until nothing is pending (or, with ``once``, one attempt per record)."""
        tried = self.tried
        self.spool.sweep(self.s.keep_done_days)
        while True:
            now = time.time()
            records = list(self.spool.records("pending"))
            if once:
                records = [r for r in records if r["id"] not in tried]
            if not records:
                return
            due = [
                r
                for r in records
                if (ignore_schedule and r["id"] not in tried) or r.get("next_at", 0) <= now
            ]
            due.sort(key=lambda r: r.get("created", 0))
            if not due or self.not_before > now:
                wake = min(
                    [r.get("next_at", 0) for r in records]
                    + ([self.not_before] if self.not_before > now else [])
                )
                wait = max(
                    0.01,
                    min(wake - now if wake > now else self.s.poll_interval, self.s.poll_interval),
                )
                if self.not_before > now:
                    wait = min(max(0.01, self.not_before - now), self.s.poll_interval)
                time.sleep(wait)
                self.wakeups += 1
                self.follow_rc()
                continue
            for rec in due:
                if time.time() < self.not_before:
                    break
                self.follow_rc()
                tried.add(rec["id"])
                self.deliver_one(rec)

    def run(
        self,
        ignore_schedule: bool = False,
        once: bool = False,
        wait_for_lock: bool = False,
        session: str = "",
    ) -> int:
        """Take the lock and deliver; return 0, 3 when another deliverer holds the lock, 4
        when ``buildkite restart`` (or a new spool_dir) stopped it.

        With ``session`` (a kicked deliverer's GL_TID), once it holds the lock (so later
        kicks see a deliverer at work) it first waits for that session to end.
        """
        first = True
        start = time.monotonic()
        try:
            while True:
                with self.spool.locked(wait=wait_for_lock) as got:
                    if not got:
                        return 3 if first else 0
                    if first and session:
                        wait_for_session(session)
                        time.sleep(self.s.start_delay)
                    try:
                        self.run_locked(ignore_schedule=ignore_schedule and first, once=once)
                    except RestartRequested:
                        return 4
                    finally:
                        first = False
                if not self._again(once):
                    return 0
        finally:
            if self.requests or self.wakeups:
                self.log(
                    "deliverer done",
                    f"requests={self.requests}",
                    f"wakeups={self.wakeups}",
                    f"seconds={time.monotonic() - start:.2f}",
                )

    def _again(self, once: bool) -> bool:
        """After letting go of the lock: go round again (True) or finish."""
        if once:
            # A push during a one-pass run did not kick (we held the lock): hand its
            # records to a background deliverer rather than leave them waiting.
            if set(self.spool.ids("pending")) - self.tried:
                from gitolite_triggers.buildkite.trigger import kick

                kick(self.rc, str(self.spool.root))
            return False
        # Something was spooled while we held the lock and its kicker gave up: go on.
        return self.spool.has_pending()


SESSION_WAIT_MAX = 60.0


def wait_for_session(tid: str, limit: float = SESSION_WAIT_MAX) -> None:
    """Wait (at most ``limit`` s) until process ``GL_TID`` has exited.

    ``GL_TID`` is the pid of the ssh session's wrapper (or of the hook, for a push that
    bypassed it): once it is gone, the push has returned to the pusher.
    """
    if not tid.isdigit() or int(tid) == os.getpid():
        return
    pid = int(tid)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # another account's process: the pid was reused, not our session
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                if f.read().rsplit(") ", 1)[1][:1] == "Z":
                    return  # exited, not yet reaped by its parent
        except (OSError, IndexError):
            pass
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    """Detached entry point: no terminal, so every problem goes to the gitolite log.

    It gets out of the way of the push that started it: it runs at nice 10 (the trigger
    starts it through ``nice``), and before the heavy work (importing requests, TLS,
    HTTP) it waits for the session that kicked it to end, so on a busy server the pusher
    never waits for CPU it uses.
    """
    os.umask(0o077)  # rc.SAFE_UMASK: records and the log stay private whatever we inherit
    try:
        try:
            if os.getpriority(os.PRIO_PROCESS, 0) < 10:
                os.nice(10)
        except OSError:
            pass
        rc = load_rc()
        d = Deliverer(rc)
        try:
            return d.run(session=os.environ.get("GL_TID", ""))
        except config.TokenError:
            return 1  # logged, and noted on every pending record
    except Exception as e:  # detached: log, never a traceback to nowhere
        glog.log(None, "buildkite", "error", f"deliverer failed: {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
