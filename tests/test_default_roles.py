"""set-default-roles (t/perm-default-roles.t): a new wild repo's gl-perms from its options."""

from __future__ import annotations

from gitolite_triggers.postcompile.default_roles import perms_text
from tests.support.server import Server
from tests.test_vref_push import compile_conf

CONF = """
@g1 = u1
repo foo/CREATOR/..*
    C = @g1
    RW+ = CREATOR
    RW = WRITERS
    R = READERS
    option default.roles-2 = WRITERS u4
    option default.roles-1 = READERS u3 CREATOR
repo bar/CREATOR/..*
    C = @g1
    RW+ = CREATOR
"""


def _create(server: Server, repo: str, user: str) -> None:
    p = server.cli(
        "shell", user, extra_env={"SSH_ORIGINAL_COMMAND": f"git-receive-pack '{repo}'"}, input=""
    )
    assert (server.repo_base / f"{repo}.git").is_dir(), p.stderr


def test_new_wild_repo_gets_default_roles(server: Server) -> None:
    server.write_rc("POST_CREATE:\n  - set-default-roles\n", name="50-roles.yaml")
    compile_conf(server, CONF)
    assert server.cli("access", "-q", "foo/u1/r1", "u4", "W", "any").returncode == 1
    _create(server, "foo/u1/r1", "u1")
    perms = (server.repo_base / "foo/u1/r1.git/gl-perms").read_text()
    assert perms == "READERS u3 u1\nWRITERS u4\n"
    assert server.cli("access", "-q", "foo/u1/r1", "u4", "W", "any").returncode == 0
    assert server.cli("access", "-q", "foo/u1/r1", "u3", "W", "any").returncode == 1
    _create(server, "bar/u1/r1", "u1")  # no options: an empty gl-perms, as gitolite
    assert (server.repo_base / "bar/u1/r1.git/gl-perms").read_text() == ""


def test_perms_text_and_what_is_left_alone(server: Server) -> None:
    assert (
        perms_text({"default.roles-1": "READERS CREATOR @g", "x": "y"}, "al") == "READERS al @g\n"
    )
    assert perms_text({"default.roles": "CREATOR READERS"}, "al") == "CREATOR READERS\n"
    from gitolite_triggers.postcompile.default_roles import main

    assert main(["POST_CREATE", "plainrepo"]) == 0  # compile's POST_CREATE: no user
    assert main(["POST_CREATE", "foo/u1/x", "u1", "perms"]) == 0  # a perms change
    assert not (server.repo_base / "foo/u1/x.git").exists()


def test_rc_import_of_enabled_set_default_roles(server: Server) -> None:
    """t/perm-default-roles.t switches the feature on by un-commenting it in the Perl rc's
    ENABLE list: `rc import` puts our built-in under POST_CREATE (once, also when the rc
    lists it itself)."""
    perl_rc = server.home / ".gitolite.rc"
    perl_rc.write_text("%RC = (ENABLE => ['help', 'set-default-roles']);\n1;\n")
    r = server.cli("rc", "import", "-q", str(perl_rc))
    assert r.returncode == 0, r.stdout + r.stderr
    compile_conf(server, CONF)
    _create(server, "foo/u1/r2", "u1")
    assert (
        server.repo_base / "foo/u1/r2.git/gl-perms"
    ).read_text() == "READERS u3 u1\nWRITERS u4\n"
    perl_rc.write_text(
        "%RC = (ENABLE => ['set-default-roles'], POST_CREATE => ['set-default-roles']);\n1;\n"
    )
    assert server.cli("rc", "import", "-q", str(perl_rc)).returncode == 0
    shown = server.cli("rc", "show", "POST_CREATE").stdout
    assert shown.count("set-default-roles") == 1, shown


def test_gl_perms_role_the_rc_lacks_warns_and_grants_nothing(server: Server) -> None:
    """t/perm-roles.t: a gl-perms line for a role not in ROLES is ignored with gitolite's
    warning, once per role, on the check's stderr (the pushing client sees it)."""
    compile_conf(server, CONF + "    RW refs/tags/ = TESTERS\n")
    _create(server, "foo/u1/r3", "u1")
    (server.repo_base / "foo/u1/r3.git/gl-perms").write_text("TESTERS u2\nTESTERS u5\nWRITERS u4\n")
    r = server.cli("access", "foo/u1/r3", "u2", "W", "refs/tags/t1")
    assert r.returncode == 1 and "DENIED by fallthru" in r.stdout
    assert r.stderr.count("WARNING: role 'TESTERS' not allowed, ignoring") == 1, r.stderr
    assert server.cli("access", "-q", "foo/u1/r3", "u4", "W", "any").returncode == 0
    (server.repo_base / "foo/u1/r3.git/gl-perms").write_text("TES\x1bTERS u2\n")
    r = server.cli("access", "foo/u1/r3", "u2", "W", "any")
    assert "WARNING: role '?' not allowed, ignoring" in r.stderr and "\x1b" not in r.stderr
