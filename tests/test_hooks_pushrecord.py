"""Push records: what post-receive writes and POST_GIT programs read back."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gitolite_triggers.hooks import pushrecord
from gitolite_triggers.hooks.entry import parse_updates
from gitolite_triggers.rc import load_rc
from tests.support.server import Server

Z = "0" * 40
A = "a" * 40
B = "b" * 40


def test_record_and_read_back(server: Server) -> None:
    rc = load_rc()
    assert pushrecord.updates_for(rc, "123", "foo/bar") == []
    pushrecord.record(rc, "123", "foo/bar", [(Z, A, "refs/heads/master")])
    pushrecord.record(rc, "123", "foo/bar", [(A, B, "refs/heads/dev")])
    assert pushrecord.updates_for(rc, "123", "foo/bar") == [
        (Z, A, "refs/heads/master"),
        (A, B, "refs/heads/dev"),
    ]
    assert pushrecord.updates_for(rc, "123", "foo") == []
    assert pushrecord.updates_for(rc, "124", "foo/bar") == []
    # repo names with '/' or a leading '.' stay inside the records folder
    pushrecord.record(rc, "..", "../x", [(Z, A, "refs/heads/y")])
    assert pushrecord.updates_for(rc, "..", "../x") == [(Z, A, "refs/heads/y")]
    base = Path(pushrecord.records_dir(rc))
    for root, _dirs, files in os.walk(base):
        assert os.path.realpath(root).startswith(os.path.realpath(base))
        assert not [f for f in files if f.endswith(".tmp")]


def test_sweep_removes_old_sessions_only(server: Server) -> None:
    rc = load_rc()
    pushrecord.record(rc, "old", "r", [(Z, A, "refs/heads/m")])
    pushrecord.record(rc, "new", "r", [(Z, A, "refs/heads/m")])
    old_dir = Path(pushrecord.records_dir(rc)) / "old"
    past = time.time() - pushrecord.MAX_AGE_SECONDS - 60
    os.utime(old_dir, (past, past))
    assert pushrecord.sweep(rc, force=True) == 1
    assert pushrecord.updates_for(rc, "old", "r") == []
    assert pushrecord.updates_for(rc, "new", "r") == [(Z, A, "refs/heads/m")]


def test_parse_updates() -> None:
    data = f"{Z} {A} refs/heads/master\n{A} {B} refs/tags/v1\n".encode()
    assert parse_updates(data) == [(Z, A, "refs/heads/master"), (A, B, "refs/tags/v1")]
    assert parse_updates(b"") == []


def test_ref_update_is_the_one_parser() -> None:
    from gitolite_triggers.refupdate import RefUpdate, parse

    text = f"{Z} {A} refs/heads/topic\n{A} {Z} refs/tags/v1\nnot a line\n{A} {B}\nx{A[1:]} {B} r\n"
    create, delete = parse(text)
    assert (create.old, create.new, create.ref) == (Z, A, "refs/heads/topic")
    assert (create.is_create, create.is_delete, create.branch) == (True, False, "topic")
    assert (delete.is_create, delete.is_delete, delete.branch) == (False, True, None)
    assert create.line() == f"{Z} {A} refs/heads/topic\n"
    sha256_zero = RefUpdate("0" * 64, "c" * 64, "refs/heads/m")
    assert sha256_zero.is_create and parse(sha256_zero.line()) == [sha256_zero]
