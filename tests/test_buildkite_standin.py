"""The Buildkite stand-in behaves like the documented API (reference A.1-A.7)."""

from __future__ import annotations

import time

import jsonschema
import pytest
import requests

from tests.support.standin import ORG, PIPELINE, TOKEN, StandInProcess, running_standin

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {
    "commit": "a" * 40,
    "branch": "main",
    "message": "m",
    "author": {"name": "A", "email": "a@x"},
    "meta_data": {"k": "v"},
}

BUILD_SCHEMA = {
    "type": "object",
    "required": ["id", "number", "url", "web_url", "state", "commit", "branch"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f-]{36}$"},
        "number": {"type": "integer", "minimum": 1},
        "url": {
            "type": "string",
            "pattern": "/v2/organizations/[^/]+/pipelines/[^/]+/builds/[0-9]+$",
        },
        "web_url": {"type": "string", "pattern": "/[^/]+/[^/]+/builds/[0-9]+$"},
        "state": {
            "enum": [
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
            ]
        },
        "source": {"enum": ["webhook", "api", "ui", "trigger_job", "schedule"]},
        "commit": {"type": "string"},
        "branch": {"type": "string"},
        "message": {"type": ["string", "null"]},
        "created_at": {"type": "string"},
        "meta_data": {"type": "object"},
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "errors": {"type": "array"}},
}


@pytest.fixture
def si():
    with running_standin() as s:
        yield s


def builds_url(si, org: str = ORG, pipe: str = PIPELINE) -> str:
    return f"{si.api_url}/organizations/{org}/pipelines/{pipe}/builds"


def test_create_returns_a_build_and_numbers_count_up(si):
    r1 = requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5)
    r2 = requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5)
    assert r1.status_code == r2.status_code == 201
    jsonschema.validate(r1.json(), BUILD_SCHEMA)
    assert (r1.json()["number"], r2.json()["number"]) == (1, 2)
    assert r1.json()["meta_data"] == {"k": "v"} and r1.json()["state"] == "scheduled"
    assert (
        r1.headers["RateLimit-Scope"] == "rest"
        and r1.headers["RateLimit-User-Scope"] == "rest_user"
    )
    assert (
        int(r2.headers["RateLimit-User-Remaining"])
        == int(r1.headers["RateLimit-User-Remaining"]) - 1
    )
    assert [b["number"] for b in si.builds()] == [1, 2]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
    ],
)
def test_auth_is_bearer_only(si, headers, status):
    r = requests.post(builds_url(si), json=GOOD, headers=headers, timeout=5)
    assert r.status_code == status
    assert r.json()["message"].startswith("Authentication required")
    assert si.builds() == []
    assert TOKEN not in str(si.received())


def test_unknown_org_and_pipeline_are_404(si):
    r = requests.post(builds_url(si, org="nope"), json=GOOD, headers=AUTH, timeout=5)
    assert r.status_code == 404 and r.json() == {"message": "No organization found"}
    r = requests.post(builds_url(si, pipe="nope"), json=GOOD, headers=AUTH, timeout=5)
    assert r.status_code == 404 and r.json() == {"message": "No pipeline found"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"branch": "main"}, "commit is required"),
        ({"commit": "a" * 40}, "branch is required"),
        ({**GOOD, "author": {"name": "x"}}, "author"),
        ({**GOOD, "clean_checkout": "yes"}, "clean_checkout"),
        ({**GOOD, "env": {"A": ["x"]}}, "env"),
        ({**GOOD, "pull_request_id": "7"}, "pull_request_id"),
    ],
)
def test_invalid_bodies_are_422_validation_failed(si, body, needle):
    r = requests.post(builds_url(si), json=body, headers=AUTH, timeout=5)
    assert r.status_code == 422
    jsonschema.validate(r.json(), ERROR_SCHEMA)
    assert r.json()["message"] == "Validation Failed"
    assert any(needle in e for e in r.json()["errors"])
    assert si.builds() == []


def test_bad_json_is_400_and_branch_filter_is_422(si):
    r = requests.post(
        builds_url(si),
        data=b'{"commit": "x',
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 400
    si.add_pipeline(ORG, "filtered", ["main"])
    r = requests.post(
        builds_url(si, pipe="filtered"), json={**GOOD, "branch": "topic"}, headers=AUTH, timeout=5
    )
    assert r.status_code == 422 and "filter condition" in r.json()["message"]
    r = requests.post(
        builds_url(si, pipe="filtered"),
        json={**GOOD, "branch": "topic", "ignore_pipeline_branch_filters": True},
        headers=AUTH,
        timeout=5,
    )
    assert r.status_code == 201


def test_scopes_and_access_token(si):
    si.add_token("readonly", ["read_builds"])
    r = requests.post(
        builds_url(si), json=GOOD, headers={"Authorization": "Bearer readonly"}, timeout=5
    )
    assert r.status_code == 403 and "write_builds" in r.json()["message"]
    r = requests.get(
        f"{si.api_url}/access-token", headers={"Authorization": "Bearer readonly"}, timeout=5
    )
    assert r.status_code == 200 and r.json()["scopes"] == ["read_builds"]
    assert set(r.json()) >= {"uuid", "scopes", "description", "created_at", "expires_at", "user"}


def test_list_builds_filters_by_meta_data(si):
    for i in range(3):
        requests.post(
            builds_url(si),
            json={**GOOD, "meta_data": {"id": f"d{i}"}, "branch": f"b{i}"},
            headers=AUTH,
            timeout=5,
        )
    r = requests.get(builds_url(si), params={"meta_data[id]": "d1"}, headers=AUTH, timeout=5)
    assert r.status_code == 200 and [b["branch"] for b in r.json()] == ["b1"]
    r = requests.get(builds_url(si), params={"meta_data[id]": "zzz"}, headers=AUTH, timeout=5)
    assert r.json() == []
    assert [b["number"] for b in requests.get(builds_url(si), headers=AUTH, timeout=5).json()] == [
        3,
        2,
        1,
    ]


def test_rate_limit_429_with_headers(si):
    si.set_limits(user_limit=2, window=30)
    codes = [requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5) for _ in range(3)]
    assert [c.status_code for c in codes] == [201, 201, 429]
    last = codes[-1]
    assert last.json()["scope"] == "rest_user" and last.json()["limit"] == 2
    assert (
        0 < int(last.headers["RateLimit-User-Reset"]) <= 30
        and last.headers["RateLimit-User-Remaining"] == "0"
    )
    assert len(si.builds()) == 2


def test_faults(si):
    si.add_fault("status", status=502)
    assert requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5).status_code == 502
    si.add_fault("status_after_create", status=500)
    assert requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5).status_code == 500
    assert len(si.builds()) == 1  # the ambiguous case: it exists anyway
    si.add_fault("drop_after_create")
    with pytest.raises(requests.ConnectionError):
        requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5)
    assert len(si.builds()) == 2
    si.add_fault("drop")
    with pytest.raises(requests.ConnectionError):
        requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5)
    assert len(si.builds()) == 2
    si.add_fault("hang")
    with pytest.raises(requests.ReadTimeout):
        requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=(2, 0.3))
    si.add_fault("slow", seconds=0.4)
    t = time.monotonic()
    assert requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5).status_code == 201
    assert time.monotonic() - t >= 0.4
    si.add_fault("rate_limit", seconds=7)
    r = requests.post(builds_url(si), json=GOOD, headers=AUTH, timeout=5)
    assert r.status_code == 429 and r.headers["RateLimit-Reset"] == "7"
    # the hung request is still hanging (no status yet) until the stand-in releases it
    assert [e["status"] for e in si.received()] == [502, 500, "dropped", "dropped", None, 201, 429]


def test_subprocess_mode_and_control_endpoint():
    with StandInProcess(extra_args=["--rate-limit", "100"]) as sp:
        r = requests.post(
            f"{sp.url}/_standin/faults", json={"kind": "status", "status": 503}, timeout=5
        )
        assert r.status_code == 200
        url = f"{sp.api_url}/organizations/{ORG}/pipelines/{PIPELINE}/builds"
        assert requests.post(url, json=GOOD, headers=AUTH, timeout=5).status_code == 503
        assert requests.post(url, json=GOOD, headers=AUTH, timeout=5).status_code == 201
        got = requests.get(f"{sp.url}/_standin/builds", timeout=5).json()
        assert len(got) == 1 and got[0]["commit"] == "a" * 40
        received = requests.get(f"{sp.url}/_standin/received", timeout=5).json()
        assert [e["status"] for e in received] == [503, 201] and all(
            e["auth"] == "known" for e in received
        )
