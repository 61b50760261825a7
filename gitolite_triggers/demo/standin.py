"""A stand-in for the parts of the Buildkite REST API (v2) that gitolite-triggers uses.

Standard library only, so admins can run it anywhere to try a config, ``gitolite-triggers
demo`` runs it in a thread (it ships in the package for that), and tests run it on
127.0.0.1 (in a thread via ``StandIn``, or as a subprocess via the command line):

    python -m gitolite_triggers.demo.standin --port 8089 --token T --org example-org \\
        --pipeline git-pipeline-demo [--pipeline other] [--rate-limit 50 --window 60]

(``python contrib/buildkite_standin.py ...`` from a checkout is the same program.)

What it models (faithful to https://buildkite.com/docs/apis/rest-api, see
docs/buildkite.md and the reference notes A.1-A.7):

- ``Authorization: Bearer <token>``; missing/unknown token -> 401 with Buildkite's message.
  Token scopes: ``write_builds`` to create (403 "Your access token doesn't have the
  write_builds scope" otherwise), ``read_builds`` to list/get builds, ``read_pipelines``
  to get a pipeline.
- ``POST /v2/organizations/{org}/pipelines/{pipeline}/builds``: unknown org or pipeline ->
  404 ``{"message": "No pipeline found"}``; a body that is not JSON -> 400; a body that
  breaks the documented request schema (``commit``/``branch`` required strings, typed
  optional fields) -> 422 ``{"message": "Validation Failed", "errors": [...]}``; a branch
  rejected by the pipeline's branch filter (``--branches``) without
  ``ignore_pipeline_branch_filters`` -> 422 "Build does not match the pipeline's filter
  condition"; otherwise 201 with a Build object (``id``, ``graphql_id``, ``number``,
  ``url``, ``web_url``, ``state: scheduled``, ``commit``, ``branch``, ``message``,
  ``author``, ``creator``, ``env``, ``meta_data``, ``source: api``, ``created_at`` ...).
  Build numbers count up per pipeline.
- ``GET .../pipelines/{pipeline}/builds`` with ``meta_data[k]=v``, ``branch``, ``commit``,
  ``state`` filters (newest first), ``GET .../builds/{number}``, ``GET .../pipelines/{pipeline}``.
- ``GET /v2/access-token``: ``uuid``, ``scopes``, ``description``, ``created_at``,
  ``expires_at``, ``user``.
- Rate limits: the ``RateLimit-*`` and ``RateLimit-User-*`` headers on every API response;
  per-organization and per-user request counts per window; over the limit -> 429 with
  Buildkite's body (``message``, ``scope``, ``limit``, ``current``, ``reset``).
  ``set_limits(user_limit=, org_limit=, window=)`` in-process, ``--rate-limit N
  --org-rate-limit N --window S`` on the command line (bench/bench_buildkite_burst.py
  drives 200 pushes through a 20-per-10 s limit; tests/test_buildkite_ops.py the 429).
- Switchable faults for the next N matching requests (``add_fault`` in-process, or
  ``POST /_standin/faults`` with the same JSON): ``status`` (answer with e.g. 502 without
  creating anything), ``status_after_create`` (create the build, then answer 500: the
  ambiguous case), ``hang`` (accept, never answer until released or the server stops),
  ``slow`` (wait N seconds, then answer normally), ``drop`` (accept the request and close
  the connection without an answer, nothing created), ``drop_after_create`` (create the
  build, then close without an answer: the lost response), ``rate_limit`` (429 with a
  given reset).
- It records every request it received (method, path, query, JSON body, status) with the
  Authorization header redacted; ``received()`` / ``GET /_standin/received``.

What it does not model: pagination (``Link`` headers, ``page``/``per_page`` beyond a plain
cap), builds ever leaving ``scheduled`` (no agents, jobs or state changes), the GraphQL API,
JWT-signed tokens, token expiry and IP allow-lists, organization-level settings such as
``skip_queued_branch_builds``, trigger-mode "branches disabled", every other endpoint, and
HTTPS. ``/_standin/*`` control endpoints are ours, not Buildkite's, and need no token.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BUILD_STATES = (
    "scheduled",
    "running",
    "passed",
    "failed",
    "blocked",
    "canceled",
    "canceling",
    "skipped",
    "not_run",
    "waiting",
    "waiting_failed",
)
MSG_401 = "Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication"
FAULT_KINDS = (
    "status",
    "status_after_create",
    "hang",
    "slow",
    "drop",
    "drop_after_create",
    "rate_limit",
)
ALL_SCOPES = ["read_builds", "write_builds", "read_pipelines"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Token:
    value: str
    scopes: list[str]
    user_name: str = "CI Bot"
    user_email: str = "ci-bot@example.com"
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Pipeline:
    org: str
    slug: str
    branches: list[str] = field(default_factory=list)  # Buildkite branch filter; empty = all
    builds: list[dict[str, Any]] = field(default_factory=list)
    next_number: int = 1


@dataclass
class Fault:
    kind: str
    times: int = 1
    status: int = 503
    seconds: float = 0.0
    method: str | None = "POST"  # which requests it applies to (None: any)
    path_contains: str | None = "/builds"


class _Window:
    """Fixed-window request counter, as Buildkite's per-minute limits behave from outside."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.start = time.monotonic()
        self.count = 0

    def hit(self) -> tuple[bool, int, int]:
        """Count one request; return (allowed, remaining, reset seconds)."""
        now = time.monotonic()
        if now - self.start >= self.seconds:
            self.start, self.count = now, 0
        self.count += 1
        reset = max(0, math.ceil(self.start + self.seconds - now))
        return self.count <= self.limit, max(0, self.limit - self.count), reset


def _validation_errors(body: Any) -> list[str]:
    """The documented Create-a-build request rules (lenient: what Buildkite itself accepts)."""
    if not isinstance(body, dict):
        return ["Request body must be a JSON object"]
    errs = []
    for key in ("commit", "branch"):
        if key not in body:
            errs.append(f"{key} is required")
        elif not isinstance(body[key], str) or not body[key].strip():
            errs.append(f"{key} must be a non-empty string")
    if "message" in body and body["message"] is not None and not isinstance(body["message"], str):
        errs.append("message must be a string")
    if "author" in body:
        a = body["author"]
        if not isinstance(a, dict) or not all(isinstance(a.get(k), str) for k in ("name", "email")):
            errs.append("author must be an object with name and email strings")
    if "env" in body:
        e = body["env"]
        if not isinstance(e, dict) or not all(
            isinstance(v, str | int | float | bool) for v in e.values()
        ):
            errs.append("env must be an object of strings")
    if "meta_data" in body:
        m = body["meta_data"]
        if not isinstance(m, dict) or not all(
            isinstance(v, str | int | float | bool) for v in m.values()
        ):
            errs.append("meta_data must be an object of strings")
    for key in ("clean_checkout", "ignore_pipeline_branch_filters"):
        if key in body and not isinstance(body[key], bool):
            errs.append(f"{key} must be a boolean")
    if "pull_request_id" in body and (
        not isinstance(body["pull_request_id"], int) or isinstance(body["pull_request_id"], bool)
    ):
        errs.append("pull_request_id must be an integer")
    for key in ("pull_request_base_branch", "pull_request_repository"):
        if key in body and not isinstance(body[key], str):
            errs.append(f"{key} must be a string")
    if "pull_request_labels" in body and not (
        isinstance(body["pull_request_labels"], list)
        and all(isinstance(x, str) for x in body["pull_request_labels"])
    ):
        errs.append("pull_request_labels must be an array of strings")
    return errs


def _branch_allowed(patterns: list[str], branch: str) -> bool:
    """Buildkite branch filter: space-separated globs, ``!`` negates."""
    if not patterns:
        return True
    positives = [p for p in patterns if not p.startswith("!")]
    if any(fnmatch.fnmatchcase(branch, p[1:]) for p in patterns if p.startswith("!")):
        return False
    return not positives or any(fnmatch.fnmatchcase(branch, p) for p in positives)


class StandIn:
    """The fake API's state and a server for it; ``start()`` serves in a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, list[str] | None] | None = None,
        pipelines: list[str] | None = None,
        org_limit: int = 200,
        user_limit: int = 50,
        window: float = 60.0,
    ) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        for value, scopes in (tokens or {}).items():
            self.add_token(value, scopes)
        self.pipelines: dict[tuple[str, str], Pipeline] = {}
        for spec in pipelines or []:
            org, _, slug = spec.partition("/")
            self.add_pipeline(org, slug)
        self.org_limit, self.user_limit, self.window = org_limit, user_limit, window
        self._org_windows: dict[str, _Window] = {}
        self._user_windows: dict[str, _Window] = {}
        self.faults: list[Fault] = []
        self._received: list[dict[str, Any]] = []
        self.release = threading.Event()  # set to let hung requests go (also on stop)
        self.httpd = _Server((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.standin = self
        self._thread: threading.Thread | None = None

    # ----- configuration (in-process API) -----
    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    def add_token(
        self,
        value: str,
        scopes: list[str] | None = None,
        user_name: str = "CI Bot",
        user_email: str = "ci-bot@example.com",
    ) -> None:
        with self.lock:
            self.tokens[value] = Token(
                value, list(ALL_SCOPES if scopes is None else scopes), user_name, user_email
            )

    def add_pipeline(self, org: str, slug: str, branches: list[str] | None = None) -> None:
        with self.lock:
            self.pipelines[(org, slug)] = Pipeline(org, slug, list(branches or []))

    def add_fault(
        self,
        kind: str,
        times: int = 1,
        status: int = 503,
        seconds: float = 0.0,
        method: str | None = "POST",
        path_contains: str | None = "/builds",
    ) -> None:
        """Apply ``kind`` to the next ``times`` requests matching method and path."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, times, status, seconds, method, path_contains))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
        self.release.set()
        self.release = threading.Event()

    def set_limits(
        self,
        org_limit: int | None = None,
        user_limit: int | None = None,
        window: float | None = None,
    ) -> None:
        with self.lock:
            if org_limit is not None:
                self.org_limit = org_limit
            if user_limit is not None:
                self.user_limit = user_limit
            if window is not None:
                self.window = window
            self._org_windows.clear()
            self._user_windows.clear()

    # ----- inspection -----
    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self._received]

    def builds(self, org: str | None = None, slug: str | None = None) -> list[dict[str, Any]]:
        """Every build created (oldest first), optionally for one pipeline."""
        with self.lock:
            out = []
            for (o, s), p in self.pipelines.items():
                if (org is None or o == org) and (slug is None or s == slug):
                    out.extend(p.builds)
            return sorted(out, key=lambda b: (b["created_at"], b["number"]))

    def state(self) -> dict[str, Any]:
        return {"builds": self.builds(), "received": self.received()}

    # ----- lifecycle -----
    def start(self) -> StandIn:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="buildkite-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- internals used by the handler -----
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if (f.method is None or f.method == method) and (
                    f.path_contains is None or f.path_contains in path
                ):
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def _rate(self, org: str, token: Token | None) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Count a request; return the RateLimit headers and a 429 body if over a limit."""
        with self.lock:
            ow = self._org_windows.setdefault(org, _Window(self.org_limit, self.window))
            uw = self._user_windows.setdefault(
                token.user_id if token else "-", _Window(self.user_limit, self.window)
            )
            o_ok, o_rem, o_reset = ow.hit()
            u_ok, u_rem, u_reset = uw.hit()
        headers = {
            "RateLimit-Scope": "rest",
            "RateLimit-Remaining": str(o_rem),
            "RateLimit-Limit": str(ow.limit),
            "RateLimit-Reset": str(o_reset),
            "RateLimit-User-Scope": "rest_user",
            "RateLimit-User-Remaining": str(u_rem),
            "RateLimit-User-Limit": str(uw.limit),
            "RateLimit-User-Reset": str(u_reset),
        }
        over = None
        if not u_ok:
            headers["RateLimit-User-Warning"] = "You have exceeded your API rate limit"
            over = {"scope": "rest_user", "limit": uw.limit, "current": uw.count, "reset": u_reset}
        if not o_ok:
            headers["RateLimit-Warning"] = "You have exceeded your API rate limit"
            over = {"scope": "rest", "limit": ow.limit, "current": ow.count, "reset": o_reset}
        if over:
            over = {
                "message": f"You have exceeded your API rate limit. Please wait {over['reset']} seconds before making more requests.",
                **over,
            }
        return headers, over

    def _record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._received.append(entry)

    def _create(self, pipe: Pipeline, body: dict[str, Any], token: Token) -> dict[str, Any]:
        with self.lock:
            number = pipe.next_number
            pipe.next_number += 1
            created = _now()
            build = {
                "id": str(uuid.uuid4()),
                "graphql_id": "QnVpbGQtLS0" + uuid.uuid4().hex[:24],
                "url": f"{self.api_url}/organizations/{pipe.org}/pipelines/{pipe.slug}/builds/{number}",
                "web_url": f"{self.url}/{pipe.org}/{pipe.slug}/builds/{number}",
                "number": number,
                "state": "scheduled",
                "blocked": False,
                "cancel_reason": None,
                "message": body.get("message"),
                "commit": body["commit"],
                "branch": body["branch"],
                "author": body.get("author"),
                "env": dict(body.get("env") or {}),
                "source": "api",
                "creator": {
                    "id": token.user_id,
                    "name": token.user_name,
                    "email": token.user_email,
                    "avatar_url": "",
                    "created_at": created,
                },
                "jobs": [],
                "created_at": created,
                "scheduled_at": created,
                "started_at": None,
                "finished_at": None,
                "meta_data": {k: str(v) for k, v in (body.get("meta_data") or {}).items()},
                "pull_request": None,
                "clean_checkout": bool(body.get("clean_checkout", False)),
                "pipeline": {
                    "slug": pipe.slug,
                    "name": pipe.slug,
                    "url": f"{self.api_url}/organizations/{pipe.org}/pipelines/{pipe.slug}",
                },
            }
            pipe.builds.append(build)
            return build


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying the StandIn its handlers answer for."""

    server_address: tuple[str, int]  # AF_INET
    standin: StandIn


class _Dropped(Exception):
    """The handler closed the connection on purpose (a fault)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "buildkite-standin/1"
    _entry: dict[str, Any] | None = None  # the request being answered, as received() lists it
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # `format`: the base class's name
        pass  # quiet: tests read received() instead

    @property
    def si(self) -> StandIn:
        return self.server.standin

    # ----- helpers -----
    def _lacks_scope(self, token: Token, scope: str, headers: dict[str, str]) -> bool:
        """Answer 403 as Buildkite does when ``token`` lacks ``scope``; True if it did."""
        if scope in token.scopes:
            return False
        self._send(403, {"message": f"Your access token doesn't have the {scope} scope"}, headers)
        return True

    def _send(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(doc).encode()
        if self._entry is not None:  # before the client can read the answer and ask received()
            self._entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self._status = status

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self._status = 0
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        raw = self._body()
        try:
            body: Any = json.loads(raw) if raw else None
            bad_json = False
        except ValueError:
            body, bad_json = raw.decode("utf-8", "replace"), True
        entry = {
            "method": method,
            "path": parts.path,
            "query": query,
            "body": body,
            "time": time.time(),
            "status": None,
            "auth": self._auth_shape(),
        }
        self._entry = entry
        if not parts.path.startswith("/_standin/"):
            self.si._record(
                entry
            )  # at arrival, so a hung request shows too; status filled in below
        try:
            if parts.path.startswith("/_standin/"):
                self._control(method, parts.path, body)
            else:
                self._api(method, parts.path, dict(query), body, bad_json)
        except _Dropped:
            entry["status"] = "dropped"
        except (BrokenPipeError, ConnectionResetError):
            entry["status"] = "client went away"
        else:
            entry["status"] = self._status

    def _auth_shape(self) -> str:
        """Redacted: whether a bearer token came, and whether it is known."""
        value = self.headers.get("Authorization") or ""
        if not value:
            return "none"
        if not value.startswith("Bearer "):
            return "not bearer"
        return "known" if value[7:] in self.si.tokens else "unknown"

    # ----- control endpoints (ours) -----
    def _control(self, method: str, path: str, body: Any) -> None:
        si = self.si
        if path == "/_standin/faults" and method == "POST":
            try:
                si.add_fault(**(body or {}))
            except (TypeError, ValueError) as e:
                self._send(400, {"message": str(e)})
                return
            self._send(200, {"faults": len(si.faults)})
        elif path == "/_standin/faults" and method == "DELETE":
            si.clear_faults()
            self._send(200, {"faults": 0})
        elif path == "/_standin/limits" and method == "POST":
            si.set_limits(**(body or {}))
            self._send(
                200, {"org_limit": si.org_limit, "user_limit": si.user_limit, "window": si.window}
            )
        elif path == "/_standin/received" and method == "GET":
            self._send(200, si.received())
        elif path == "/_standin/builds" and method == "GET":
            self._send(200, si.builds())
        else:
            self._send(404, {"message": "No such control endpoint"})

    # ----- the API -----
    def _api(
        self, method: str, path: str, query: dict[str, str], body: Any, bad_json: bool
    ) -> None:
        si = self.si
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0] != "v2":
            self._send(404, {"message": "Not Found"})
            return
        org = segs[2] if len(segs) > 2 and segs[1] == "organizations" else "-"
        auth = self.headers.get("Authorization") or ""
        token = si.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        headers, over = si._rate(org, token)
        fault = si._take_fault(method, path)
        if fault and fault.kind == "hang":
            si.release.wait(timeout=fault.seconds or 300)
            self._drop()
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault and fault.kind == "drop":
            self._drop()
        if fault and fault.kind == "status":
            self._send(fault.status, {"message": f"Stand-in fault: HTTP {fault.status}"}, headers)
            return
        if fault and fault.kind == "rate_limit":
            reset = int(fault.seconds)
            headers.update(
                {
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset),
                    "RateLimit-User-Remaining": "0",
                    "RateLimit-User-Reset": str(reset),
                }
            )
            self._send(
                429,
                {
                    "message": f"You have exceeded your API rate limit. Please wait {reset} seconds before making more requests.",
                    "scope": "rest_user",
                    "limit": si.user_limit,
                    "current": si.user_limit + 1,
                    "reset": reset,
                },
                headers,
            )
            return
        if token is None:
            self._send(401, {"message": MSG_401}, headers)
            return
        if over:
            self._send(429, over, headers)
            return
        if segs[1:] == ["access-token"] and method == "GET":
            self._send(
                200,
                {
                    "uuid": token.uuid,
                    "scopes": token.scopes,
                    "description": "stand-in token",
                    "created_at": "2026-01-01T00:00:00.000Z",
                    "expires_at": None,
                    "user": {"name": token.user_name, "email": token.user_email},
                },
                headers,
            )
            return
        if len(segs) < 5 or segs[1] != "organizations" or segs[3] != "pipelines":
            self._send(404, {"message": "Not Found"}, headers)
            return
        with si.lock:
            pipe = si.pipelines.get((segs[2], segs[4]))
            if pipe is None and not any(o == segs[2] for o, _ in si.pipelines):
                self._send(404, {"message": "No organization found"}, headers)
                return
        if pipe is None:
            self._send(404, {"message": "No pipeline found"}, headers)
            return
        rest = segs[5:]
        if rest == [] and method == "GET":
            if self._lacks_scope(token, "read_pipelines", headers):
                return
            self._send(
                200,
                {
                    "slug": pipe.slug,
                    "name": pipe.slug,
                    "branch_configuration": " ".join(pipe.branches) or None,
                    "builds_url": f"{si.api_url}/organizations/{pipe.org}/pipelines/{pipe.slug}/builds",
                },
                headers,
            )
        elif rest == ["builds"] and method == "POST":
            self._create_build(pipe, token, body, bad_json, headers, fault)
        elif rest == ["builds"] and method == "GET":
            if self._lacks_scope(token, "read_builds", headers):
                return
            self._send(200, self._list(pipe, query), headers)
        elif len(rest) == 2 and rest[0] == "builds" and rest[1].isdigit() and method == "GET":
            if self._lacks_scope(token, "read_builds", headers):
                return
            with si.lock:
                found = [b for b in pipe.builds if b["number"] == int(rest[1])]
            if found:
                self._send(200, found[0], headers)
            else:
                self._send(404, {"message": "No build found"}, headers)
        else:
            self._send(404, {"message": "Not Found"}, headers)

    def _create_build(
        self,
        pipe: Pipeline,
        token: Token,
        body: Any,
        bad_json: bool,
        headers: dict[str, str],
        fault: Fault | None,
    ) -> None:
        if self._lacks_scope(token, "write_builds", headers):
            return
        if bad_json:
            self._send(400, {"message": "Problems parsing JSON"}, headers)
            return
        errs = _validation_errors(body)
        if errs:
            self._send(422, {"message": "Validation Failed", "errors": errs}, headers)
            return
        if not body.get("ignore_pipeline_branch_filters") and not _branch_allowed(
            pipe.branches, body["branch"]
        ):
            self._send(
                422, {"message": "Build does not match the pipeline's filter condition"}, headers
            )
            return
        build = self.si._create(pipe, body, token)
        if fault and fault.kind == "drop_after_create":
            self._drop()
        if fault and fault.kind == "status_after_create":
            self._send(
                fault.status,
                {"message": f"Stand-in fault: HTTP {fault.status} after creating the build"},
                headers,
            )
            return
        self._send(201, build, headers)

    def _list(self, pipe: Pipeline, query: dict[str, str]) -> list[dict[str, Any]]:
        with self.si.lock:
            builds = list(reversed(pipe.builds))
        for key, value in query.items():
            if key.startswith("meta_data[") and key.endswith("]"):
                k = key[10:-1]
                builds = [b for b in builds if b["meta_data"].get(k) == value]
            elif key in ("branch", "commit", "state"):
                builds = [b for b in builds if b[key] == value]
        per_page = int(query.get("per_page") or 30)
        return builds[: max(1, min(per_page, 100))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="A loopback stand-in for the Buildkite REST API (builds)."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    p.add_argument(
        "--token",
        action="append",
        default=[],
        help="an accepted bearer token (repeatable); reads BUILDKITE_STANDIN_TOKEN if none",
    )
    p.add_argument(
        "--scopes", default=",".join(ALL_SCOPES), help="comma-separated scopes of the tokens"
    )
    p.add_argument("--org", default="example-org")
    p.add_argument(
        "--pipeline",
        action="append",
        default=[],
        help="a pipeline slug in --org (repeatable), or ORG/SLUG",
    )
    p.add_argument("--branches", default="", help="pipeline branch filter, space-separated globs")
    p.add_argument("--rate-limit", type=int, default=50, help="per-user requests per window")
    p.add_argument("--org-rate-limit", type=int, default=200)
    p.add_argument("--window", type=float, default=60.0, help="rate limit window in seconds")
    a = p.parse_args(argv)
    import os

    tokens = a.token or [t for t in [os.environ.get("BUILDKITE_STANDIN_TOKEN")] if t]
    if not tokens:
        p.error("give --token (or set BUILDKITE_STANDIN_TOKEN)")
    scopes = [s for s in a.scopes.split(",") if s]
    si = StandIn(
        a.host,
        a.port,
        tokens={t: scopes for t in tokens},
        org_limit=a.org_rate_limit,
        user_limit=a.rate_limit,
        window=a.window,
    )
    for spec in a.pipeline or ["git-pipeline-demo"]:
        org, slug = spec.split("/", 1) if "/" in spec else (a.org, spec)
        si.add_pipeline(org, slug, a.branches.split())
    print(f"buildkite stand-in listening on {si.url} (API {si.api_url})", flush=True)
    try:
        si.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        si.release.set()
        si.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
