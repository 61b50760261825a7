"""Rule templates (``=begin template-data``), against the real gitolite3."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from gitolite_triggers.conf.templates import parse_blocks
from tests.support.gitolite_ref import GitoliteRef, require_gitolite
from tests.support.server import Server

ROLES = ["OWNERS", "PUSHERS", "LEADS", "READERS", "TEAM", "WRITERS"]
CONF = """
repo gitolite-admin
    RW+ = admin
@tpl-repos = tb tc

repo @CORE
    RW+CD = OWNERS
repo @SANDBOX
    RW+CD sandbox/USER/ = TEAM
    - sandbox/ = TEAM
repo @TAGS
    RWC refs/tags/rel- = taggers
    - refs/tags/rel- = @all
repo @CORE
    RW+CD = PUSHERS
    RWC main = LEADS
    - main = @all
    RWC = LEADS WRITERS taggers
    R = READERS

=begin template-data

repo ta = CORE
    PUSHERS = u1
    LEADS = u2
    WRITERS = u3
    READERS = u4

repo @tpl-repos = CORE SANDBOX
    OWNERS  = admin
    PUSHERS = u1
    # a comment
    WRITERS = u3 \\
        u7
    TEAM    = u1 u2 u5
repo td = CORE TAGS SANDBOX
    LEADS = u2
    READERS = u4 u5
    TEAM = u5 u6
    bad line; skipped = u9
=end
"""
REPOS = ["ta", "tb", "tc", "td"]
USERS = ["admin", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u9", "taggers"]
REFS = ["any", "main", "other", "refs/tags/x", "refs/tags/rel-1", "sandbox/u5/a", "sandbox/u1/b"]


def test_templates_same_answers_as_gitolite(server: Server, tmp_path: Path) -> None:
    require_gitolite()
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    rc = (ref.home / ".gitolite.rc").read_text()
    roles = "".join(f"{r} => 1, " for r in ROLES)
    rc = re.sub(r"ROLES\s*=>\s*\{[^}]*\}", "ROLES => { " + roles + "}", rc, count=1)
    (ref.home / ".gitolite.rc").write_text(rc)
    ref.write_conf(CONF)
    ref.compile()
    server.write_rc("ROLES: [" + ", ".join(ROLES) + "]\n")
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    assert "bad line:" in p.stderr
    for repo in REPOS:
        for name in ("gl-perms", "gl-repo-groups", "gl-creator"):
            ours = (server.repo_base / f"{repo}.git" / name).read_text()
            assert ours == (ref.repo_base / f"{repo}.git" / name).read_text(), (repo, name)
    queries = [
        (r, u, p, ref_)
        for r, u, p, ref_ in itertools.product(REPOS, USERS, ("R", "W", "+", "C", "D"), REFS)
        if not (p == "R" and ref_ != "any")
    ]
    want = ref.access_batch(queries)
    stdin = "".join(" ".join(q) + "\n" for q in queries)
    out = server.cli("access", "--batch", input=stdin).stdout.splitlines()
    got = [ln.split("\t", 1)[1] for ln in out]
    diffs = [(q, w, g) for q, w, g in zip(queries, want, got, strict=True) if w != g]
    assert not diffs, diffs[:10]
    assert 0.2 < sum("DENIED" not in w for w in want) / len(want) < 0.8


def test_block_parser() -> None:
    warnings: list[str] = []
    text = "=begin template-data\nrepo a b = X  Y\n  R1 = u1\n\tR2 =u2 \\\n u3\nrepo c = Z\n=end\n"
    blocks = parse_blocks(text + "repo d = W\n  R = u\n", warnings)
    assert [(b.repos, b.templates, b.perms) for b in blocks] == [
        (["a", "b"], "X Y", "R1 = u1\nR2 = u2  u3\n"),
        (["c"], "Z", ""),
    ]
    assert parse_blocks("= begin template-data\nrepo a = X\n R = u\n=end\n", warnings) == []


def test_compile_template_data_by_hand(server: Server) -> None:
    """The command's function writes the files again (a perms change undone)."""
    from gitolite_triggers.conf.templates import compile_template_data
    from gitolite_triggers.rc import load_rc

    server.write_rc("ROLES: [" + ", ".join(ROLES) + "]\n")
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(CONF)
    assert server.cli("compile").returncode == 0
    perms = server.repo_base / "tb.git" / "gl-perms"
    want = perms.read_text()
    assert (
        "PUSHERS = u1" in want
        and "WRITERS = u3 " in want
        and want.endswith(" u7\nTEAM = u1 u2 u5\n")
    )
    perms.write_text("READERS = u9\n")
    assert compile_template_data(load_rc()) == ["bad line:     bad line; skipped = u9"]
    assert perms.read_text() == want


def test_subconf_file_cannot_attach_templates_to_other_repos(server: Server) -> None:
    """A sub-admin's fragment (read as a subconf) may only name its own group's repos, so
    its template-data cannot put gitolite-admin (or any repo) under a template, give it
    roles, or create repos: such blocks are skipped with a warning."""
    server.write_rc("ROLES: [" + ", ".join(ROLES) + "]\n")
    conf = server.admin_base / "conf"
    (conf / "fragments").mkdir(parents=True)
    (conf / "gitolite.conf").write_text(CONF + '@u1r = r1a\nsubconf "fragments/*.conf"\n')
    (conf / "fragments" / "u1r.conf").write_text(
        "=begin template-data\nrepo gitolite-admin r1a newrepo = CORE\n    OWNERS = eve\n=end\n"
    )
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    assert "conf/fragments/u1r.conf" in p.stderr and "template-data" in p.stderr
    admin = server.repo_base / "gitolite-admin.git"
    assert not (admin / "gl-repo-groups").exists() and not (admin / "gl-perms").exists()
    assert not (server.repo_base / "newrepo.git").exists()
    assert server.cli("access", "-q", "gitolite-admin", "eve", "W", "any").returncode != 0
    assert (server.repo_base / "ta.git" / "gl-perms").is_file()  # the main conf's still apply


def test_templates_never_write_outside_the_repo_base(server: Server, tmp_path: Path) -> None:
    """A symlink in the repo base (a repo, or a folder) that leads outside: template-data
    naming it neither creates a repo out there nor writes gl-perms/gl-repo-groups into one."""
    import subprocess

    outside = tmp_path / "outside"
    outside.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(outside / "real.git")], check=True)
    server.repo_base.mkdir(parents=True, exist_ok=True)
    (server.repo_base / "evil.git").symlink_to(outside / "real.git")
    (server.repo_base / "linkdir").symlink_to(outside)
    server.write_rc("ROLES: [" + ", ".join(ROLES) + "]\n")
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(
        CONF + "=begin template-data\nrepo evil linkdir/new = CORE\n    OWNERS = eve\n=end\n"
    )
    server.cli("compile")
    assert sorted(p.name for p in outside.iterdir()) == ["real.git"]
    assert not (outside / "real.git" / "gl-perms").exists()
    assert not (outside / "real.git" / "gl-repo-groups").exists()
