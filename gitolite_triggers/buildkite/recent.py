"""The recent builds this server created for a repo, for ``ssh git@host builds``.

From the spool's records (done/, pending/, dead/), newest first; the states of created
builds are refreshed from the API when the token can read builds. The refresh is one
``GET .../builds?meta_data[gitolite_repo]=REPO`` per pipeline, run in a daemon thread
joined with a short deadline (REFRESH_DEADLINE): a slow or unreachable API makes the
answer *stale* (said so), never a hung ssh session. Standard library HTTP (urllib): this
runs in the forced command, which never imports requests.
"""

from __future__ import annotations

import os
import threading
import time

from gitolite_triggers.buildkite import config
from gitolite_triggers.buildkite.spool import Record, Spool
from gitolite_triggers.rc import Rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REFRESH_DEADLINE = 2.5  # seconds, for every API request of one `builds` together
LIMIT = 20


class Row:
    """One line of ``builds``: a record and what is known about its build."""

    __slots__ = ("branch", "created", "number", "rec", "sha", "state", "url")

    def __init__(self, rec: Record, state: str) -> None:
        build = rec.get("build") or {}
        self.rec = rec
        self.number: int | None = build.get("number")
        self.state = state
        self.branch = str((rec.get("body") or {}).get("branch") or rec["ref"])
        self.sha = str(rec["new"])[:7]
        self.url = str(build.get("web_url") or "")
        self.created = float(rec.get("created") or 0)


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def rows(rc: Rc, repo: str, ref: str | None = None, limit: int = LIMIT) -> list[Row]:
    """The newest ``limit`` builds of ``repo`` (of ``ref``: full or short name)."""
    spool = Spool(config.settings(rc).spool_dir)
    found: list[Row] = []
    for state in ("pending", "dead", "done"):
        try:
            entries = sorted(
                os.scandir(spool.dir(state)), key=lambda e: e.stat().st_mtime, reverse=True
            )
        except FileNotFoundError:
            continue
        mine = 0
        for entry in entries:
            if not entry.name.endswith(".json") or mine >= limit:
                continue
            try:
                rec = spool.load(state, entry.name[:-5])
            except (OSError, ValueError):
                continue
            if rec is None or rec.get("repo") != repo:
                continue
            if ref is not None and ref not in (rec.get("ref"), _short(str(rec.get("ref")))):
                continue
            if state == "done" and not rec.get("build"):
                continue  # skipped (the push did not move the ref): no build to show
            what = {
                "pending": "queued",
                "dead": "not created",
            }.get(state) or str((rec.get("build") or {}).get("state") or "created")
            found.append(Row(rec, what))
            mine += 1
    found.sort(key=lambda r: r.created, reverse=True)
    return found[:limit]


def refresh(rc: Rc, repo: str, found: list[Row]) -> str:
    """Update the rows' states from the API; return "" or why they are stale."""
    wanted = {(r.rec["org"], r.rec["pipeline"]) for r in found if r.number is not None}
    if not wanted:
        return ""
    s = config.settings(rc)
    try:
        token = config.load_token(s)
    except config.TokenError:
        return "cannot read the API token"
    got: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors: list[str] = []

    def fetch() -> None:
        import json
        import urllib.error
        import urllib.request
        from urllib.parse import quote, urlencode

        for org, pipe in sorted(wanted):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            q = urlencode({"meta_data[gitolite_repo]": repo, "per_page": "100"})
            url = (
                f"{s.api_url}/organizations/{quote(org, safe='')}"
                f"/pipelines/{quote(pipe, safe='')}/builds?{q}"
            )
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=left) as resp:
                    data = json.loads(resp.read(4 << 20))
            except urllib.error.HTTPError as e:
                errors.append(
                    "the API token cannot read builds"
                    if e.code in (401, 403)
                    else f"Buildkite answered HTTP {e.code}"
                )
                continue
            except (OSError, ValueError):
                errors.append("Buildkite did not answer in time")
                continue
            if isinstance(data, list):
                got[(org, pipe)] = [b for b in data if isinstance(b, dict)]

    deadline = time.monotonic() + REFRESH_DEADLINE
    worker = threading.Thread(target=fetch, name="builds-refresh", daemon=True)
    worker.start()
    worker.join(REFRESH_DEADLINE + 0.2)
    if worker.is_alive():
        return "Buildkite did not answer in time"
    for row in found:
        key = (row.rec["org"], row.rec["pipeline"])
        for b in got.get(key, []):
            if b.get("number") == row.number and isinstance(b.get("state"), str):
                row.state = b["state"]
                row.url = str(b.get("web_url") or row.url)
    missing = [
        r for r in found if r.number is not None and (r.rec["org"], r.rec["pipeline"]) not in got
    ]
    if missing:
        return errors[0] if errors else "Buildkite did not answer in time"
    return ""


def age(t: float, now: float | None = None) -> str:
    d = max(0, int((now or time.time()) - t))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if d >= size:
            return f"{d // size}{unit} ago"
    return f"{d}s ago"
