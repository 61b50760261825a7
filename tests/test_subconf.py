"""subconf delegation, against the real gitolite3 (t/include-subconf.t, t/deleg-*.t)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gitolite_triggers.conf.errors import ConfError
from gitolite_triggers.conf.parse import parse_conf
from tests.support.gitolite_ref import GitoliteRef, require_gitolite
from tests.support.server import Server

MAIN = """
repo gitolite-admin
    RW+ = admin
include "i1.conf"
@i2 = b1 c[0-9]
subconf "i2.conf"
include "i1.conf"
@g3 = i1 i2 i3
subconf "g3.conf"
subconf ext "eye.conf"
@ext = x1
"""
FILES = {
    "i1.conf": '@g1 = a1 a2\nrepo foo\n    RW = u1\ninclude "j1.conf"\n',
    "j1.conf": "@h2 = c1 c2\nrepo baz\n    RW = u3\n",
    "i2.conf": "@g2 = b1 b2\n@g1 = bar\nrepo bar b1 b2 c7 i1 i2 @i1 @i2 @g2 @g1\n    RW = u2\n"
    "    RW+ = @g1\n",
    "g3.conf": "@g3 = g3 h3 i2\nrepo @g3\n    RW = u1\nrepo g3\n    R = @g3\n",
    "eye.conf": "repo @eye x1 ext\n    RW = u4\n",
}
REPOS = ["foo", "baz", "bar", "b1", "b2", "c7", "i1", "i2", "g3", "h3", "x1", "ext", "a1"]
USERS = ["u1", "u2", "u3", "u4", "bar", "g3", "i2"]


def test_subconf_same_answers_as_gitolite(server: Server, tmp_path: Path) -> None:
    require_gitolite()
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    ref.write_conf(MAIN, FILES)
    theirs = ref.compile()
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text(MAIN)
    for rel, body in FILES.items():
        (conf / rel).write_text(body)
    ours = server.cli("compile")
    assert ours.returncode == 0, ours.stderr
    # gitolite's warnings, ours with file:line in front
    for want in (
        "subconf 'i2' attempting to set access for @i1, b2, bar, i1",
        "WARNING: expanding '@g2'",  # gitolite's words first, as t/deleg-1.t matches them
        "subconf 'g3' attempting to set access for h3",
        "i1.conf already included",
    ):
        assert want in theirs.stderr, (want, theirs.stderr)
        assert want in ours.stderr, (want, ours.stderr)
    created = sorted(p.name[:-4] for p in ref.repo_base.glob("*.git") if p.name != "testing.git")
    assert sorted(p.name[:-4] for p in server.repo_base.glob("*.git")) == created
    queries = [(r, u, p, "any") for r, u, p in itertools.product(REPOS, USERS, ("R", "W", "+"))]
    want = ref.access_batch(queries)
    stdin = "".join(" ".join(q) + "\n" for q in queries)
    got = [
        ln.split("\t", 1)[1]
        for ln in server.cli("access", "--batch", input=stdin).stdout.splitlines()
    ]
    assert got == want
    assert sum("DENIED" not in w for w in want) > 10


def _parse(tmp_path: Path, main: str, files: dict[str, str]) -> object:
    d = tmp_path / "conf"
    d.mkdir(exist_ok=True)
    (d / "gitolite.conf").write_text(main)
    for rel, body in files.items():
        (d / rel).write_text(body)
    return parse_conf(d)


def test_subconf_cannot_run_subconf_and_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfError) as e:
        _parse(tmp_path, '@g2 = i1\nsubconf "g2.conf"\n', {"g2.conf": "subconf master\n"})
    assert "conf/g2.conf:1: subconf 'g2' attempting to run 'subconf'" in str(e.value)
    with pytest.raises(ConfError) as e:
        _parse(tmp_path, 'subconf a/b "x.conf"\n', {"x.conf": "repo x\n  R = u\n"})
    assert "bad subconf 'a/b'" in str(e.value)
    # a one-letter "subconf x" line is no include: a syntax error here (gitolite switches
    # subconf on it, which would let a sub-admin leave its own)
    with pytest.raises(ConfError) as e:
        _parse(tmp_path, '@s = r\nsubconf "s.conf"\n', {"s.conf": "subconf x\nrepo q\n  R = u\n"})
    assert "syntax error: 'subconf x'" in str(e.value)


DELEG = """
@u1r = r1a r1b
@u2r = r2a r2b
repo gitolite-admin
    RW                          = u1 u2
    RW+ NAME/                   = admin
    RW  NAME/conf/fragments/u1r = u1
    RW  NAME/conf/fragments/u2r = u2
    -   NAME/                   = @all
subconf "fragments/*.conf"
"""


def test_delegation_through_real_admin_pushes(server: Server, tmp_path: Path) -> None:
    """t/deleg-1.t: sub-admins may push only their own fragment (VREF/NAME on the admin
    repo), and a fragment may only give access to its own group's repos (subconf)."""
    from tests.support.adminkeys import make_key
    from tests.support.adminrepo import clone_admin, commit_all, push_as

    key = make_key(tmp_path, "admin")
    assert server.cli("setup", "--pubkey", str(key)).returncode == 0
    admin = clone_admin(server, tmp_path / "ga")
    (admin / "conf" / "gitolite.conf").write_text(DELEG)
    (admin / "conf" / "fragments").mkdir()
    (admin / "conf" / "fragments" / "u1r.conf").write_text("repo @u1r\n    RW+ = tester\n")
    commit_all(admin, server.env, "delegate")
    p = push_as(server, admin, "admin")
    assert p.returncode == 0 and "FATAL" not in p.stderr, p.stderr
    assert (server.repo_base / "r1a.git").is_dir()

    def can(repo: str, user: str) -> bool:
        return server.cli("access", "-q", repo, user, "W", "any").returncode == 0

    assert can("r1a", "tester")
    (admin / "conf" / "fragments" / "u1r.conf").write_text("repo @u1r r2a\n    RW+ = u5\n")
    commit_all(admin, server.env, "u1's own fragment")
    p = push_as(server, admin, "u1")
    assert p.returncode == 0, p.stderr
    assert "subconf 'u1r' attempting to set access for r2a" in p.stderr
    assert can("r1b", "u5") and not can("r2a", "u5") and not can("r1a", "tester")

    (admin / "conf" / "gitolite.conf").write_text(DELEG + "repo @u1r\n    RW+ = u6\n")
    commit_all(admin, server.env, "u2 edits the main conf")
    p = push_as(server, admin, "u2")
    assert p.returncode != 0
    assert "W VREF/NAME/conf/gitolite.conf gitolite-admin u2 DENIED by VREF/NAME/" in p.stderr
    assert not can("r1a", "u6")


# --- hostile sub-admins (docs/security.md, "subconf delegation") ---------------------------

HOSTILE_MAIN = """
repo gitolite-admin
    RW+ = admin
@sales = sales/..*
subconf "sales.conf"
repo after-sales
    RW = u9
"""


def _sub_compile(server: Server, sales: str) -> None:
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gitolite.conf").write_text(HOSTILE_MAIN)
    (conf / "sales.conf").write_text(sales)
    done = server.cli("compile")
    assert done.returncode == 0, done.stderr


def _can(server: Server, repo: str, user: str, perm: str = "W") -> bool:
    return server.cli("access", "-q", repo, user, perm, "any").returncode == 0


def test_subconf_starts_without_the_main_confs_repo_context(server: Server) -> None:
    """A subconf whose first lines are rules (no ``repo`` line yet) must not add them to
    the main conf's last repos (gitolite-admin here), nor leak its own into the main conf's
    later lines."""
    _sub_compile(server, "RW+ = mallory\noption hook.pre-receive = x\nrepo sales/a\n  RW = u1\n")
    assert not _can(server, "gitolite-admin", "mallory")
    assert _can(server, "sales/a", "u1") and not _can(server, "gitolite-admin", "u1")
    assert _can(server, "after-sales", "u9") and not _can(server, "sales/a", "u9")


@pytest.mark.parametrize(
    "item",
    [
        "sales/x|gitolite-admin",
        "sales/.*|.*",
        "sales/x|gitolite-admin|y",
        "sales/(x)|gitolite-admin",
        r"sales/\Q(\E|gitolite-admin",
        "sales/[]x]|gitolite-admin",
    ],
)
def test_subconf_pattern_cannot_escape_its_group_by_alternation(server: Server, item: str) -> None:
    """``sales/x|gitolite-admin`` matches ``^sales/..*$`` as a string, but as a pattern
    (``^sales/x|gitolite-admin$``) it matches gitolite-admin: refused in a subconf."""
    _sub_compile(server, f"repo {item}\n    RW+ = eve\nrepo sales/ok\n    RW+ = eve\n")
    assert not _can(server, "gitolite-admin", "eve")
    assert not _can(server, "gitolite-admin", "eve", "R")
    assert _can(server, "sales/ok", "eve")


def test_subconf_cannot_swallow_a_file_the_main_conf_includes_later(server: Server) -> None:
    """A sub-admin's fragment that includes a file the main conf includes after the
    subconf (its deny rules, say) must not use it up: read inside the subconf it is
    restricted to the subconf's repos, and the main conf still reads it in full."""
    conf = server.admin_base / "conf"
    (conf / "fragments").mkdir(parents=True)
    (conf / "gitolite.conf").write_text(
        'repo gitolite-admin\n    RW+ = admin\n@u1r = sales/..*\nsubconf "fragments/*.conf"\n'
        'include "denies.conf"\nrepo shared\n    RW+ = @all\n'
    )
    (conf / "denies.conf").write_text("repo shared\n    - = eve\n")
    (conf / "fragments" / "u1r.conf").write_text('include "denies.conf"\n')
    done = server.cli("compile")
    assert done.returncode == 0, done.stderr

    def push_ok(user: str) -> bool:
        r = server.cli("access", "-q", "shared", user, "W", "refs/heads/master")
        return r.returncode == 0

    assert push_ok("alice")
    assert not push_ok("eve")  # denies.conf's rule, read by the main conf


def test_a_fragment_named_master_gets_no_full_rights(tmp_path: Path) -> None:
    """``subconf "fragments/*.conf"`` names each subconf after its file: a sub-admin's
    ``fragments/master.conf`` would be the main conf itself (gitolite's name for it)."""
    with pytest.raises(ConfError) as e:
        _parse(
            tmp_path,
            'repo gitolite-admin\n  RW+ = admin\nsubconf "m*.conf"\n',
            {"master.conf": "repo gitolite-admin\n  RW+ = eve\n"},
        )
    assert "bad subconf 'master'" in str(e.value)
