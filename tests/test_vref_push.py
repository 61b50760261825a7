"""VREFs through real pushes into our real hooks (docs/conf.md, "VREFs")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pushside import Side, ours
from tests.support.server import Server

CONF = """
repo gitolite-admin
    RW+ = admin
@devs = u2 u4 u6
repo foo
    RW+ = u1 @devs
    - VREF/COUNT/2 = u2
    - VREF/COUNT/3/NEWFILES = u6
    RW+ NAME/docs/public/ = u4
    - NAME/docs/ = u4
    - VREF/MAX_NEWBIN_SIZE/1000 = @all
"""


def compile_conf(server: Server, conf: str) -> None:
    d = server.admin_base / "conf"
    d.mkdir(parents=True, exist_ok=True)
    (d / "gitolite.conf").write_text(conf)
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr


@pytest.fixture
def side(server: Server, tmp_path: Path) -> Side:
    compile_conf(server, CONF)
    return ours(server, tmp_path / "work")


def test_count(side: Side) -> None:
    side.commit("foo", {"a": b"1", "b": b"2", "c": b"3"})
    p = side.push("foo", "u2")
    assert p.returncode != 0
    assert "FATAL: W VREF/COUNT/2 foo u2 DENIED by VREF/COUNT/2" in p.stderr
    assert "(too many changed files in this push)" in p.stderr
    assert side.push("foo", "u1").returncode == 0  # no VREF rule for u1
    side.commit("foo", {"a": b"x", "b": b"y"})
    assert side.push("foo", "u2").returncode == 0, "two files are not too many"
    side.commit("foo", {"n1": b"1", "n2": b"2", "n3": b"3", "a": b"z"})
    assert side.push("foo", "u6").returncode == 0  # 3 new files: not more than 3
    side.commit("foo", {"m1": b"1", "m2": b"2", "m3": b"3", "m4": b"4"})
    p = side.push("foo", "u6")
    assert "too many new files in this push" in p.stderr and p.returncode != 0


def test_name(side: Side) -> None:
    side.commit("foo", {"docs/public/x": b"1", "src/y": b"2"})
    assert side.push("foo", "u4").returncode == 0
    side.commit("foo", {"docs/private/z": b"1"})
    p = side.push("foo", "u4")
    assert p.returncode != 0
    assert "W VREF/NAME/docs/private/z foo u4 DENIED by VREF/NAME/docs/" in p.stderr
    side.reset("foo", "HEAD~1")
    # a rename out of the protected folder changes it too
    side.commit("foo", {"docs/public/x": None, "moved": b"1"})
    assert side.push("foo", "u4").returncode == 0  # docs/public/ is allowed
    side.commit("foo", {"docs/pub\nlic/x": b"1"})
    p = side.push("foo", "u4")
    assert p.returncode != 0 and "VREF/NAME/docs/pub.lic/x" in p.stderr  # safe_ref, no newline


def test_max_newbin_size(side: Side) -> None:
    side.commit("foo", {"small.bin": b"\0" * 1000, "big.txt": b"x" * 5000})
    assert side.push("foo", "u1").returncode == 0
    side.commit("foo", {"big.bin": b"\0" * 1001})
    p = side.push("foo", "u1")
    assert p.returncode != 0 and "big.bin is larger than 1000" in p.stderr
    side.commit("foo", {}, message="x\n\nbig.bin signed-off by: t@example.com\n")
    assert side.push("foo", "u1").returncode == 0


HELPER = """#!/bin/sh
# argv: ref old new oldtree newtree aa vref args...
echo "helper says: $1 $6 $7 $8 $9 GL_USER=$GL_USER GL_REPO=$GL_REPO"
case "$8" in
  deny) echo "VREF/FOO/deny nope, $GL_USER" ;;
  allow) echo "VREF/FOO/allow" ;;
  fail) exit 3 ;;
esac
"""


def test_helper_program_interface(server: Server, tmp_path: Path) -> None:
    """A LOCAL_CODE/VREF program: gitolite's argv, its VREF/ lines checked, other lines
    shown, a non-zero exit fatal; a missing one refuses the push."""
    local = server.home / "local"
    (local / "VREF").mkdir(parents=True)
    prog = local / "VREF" / "FOO"
    prog.write_text(HELPER)
    prog.chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {local}\n")
    compile_conf(
        server,
        "repo foo\n  RW+ = u1 u2 u3 u4 u5\n  RW+ VREF/FOO/allow = u1\n"
        "  - VREF/FOO/deny = u1 u2\n  - VREF/FOO/allow/y = u3\n  - VREF/FOO/fail = u4\n"
        "  - VREF/NOPE = u5\n  - VREF/FOO = @all\n",
    )
    side = ours(server, tmp_path / "work")
    side.commit("foo", {"a": b"1"})
    p = side.push("foo", "u3")  # prints VREF/FOO/allow, which `- VREF/FOO` denies for u3
    assert p.returncode != 0, p.stderr
    assert (
        "helper says: refs/heads/master W VREF/FOO/allow/y allow y GL_USER=u3 GL_REPO=foo"
        in p.stderr
    )
    assert "FATAL: W VREF/FOO/allow foo u3 DENIED by VREF/FOO" in p.stderr
    p = side.push("foo", "u2")
    assert p.returncode != 0 and "DENIED by VREF/FOO" in p.stderr and "nope, u2" in p.stderr
    p = side.push("foo", "u4")
    assert p.returncode != 0 and "VREF/FOO/fail: helper program exit status 3" in p.stderr
    p = side.push("foo", "u5")
    assert p.returncode != 0 and "'VREF/NOPE': helper program missing or unexecutable" in p.stderr
    # u1: VREF/FOO/allow is allowed by its RW+ line; VREF/FOO/deny denied by the deny rule
    p = side.push("foo", "u1")
    assert p.returncode != 0 and "W VREF/FOO/deny foo u1 DENIED by VREF/FOO/deny" in p.stderr


def test_helper_symlink_out_of_local_code_is_not_run(server: Server, tmp_path: Path) -> None:
    local = server.home / "local"
    (local / "VREF").mkdir(parents=True)
    (local / "VREF" / "ESC").symlink_to("/bin/true")
    server.write_rc(f"LOCAL_CODE: {local}\n")
    compile_conf(server, "repo foo\n  RW+ = u1\n  - VREF/ESC = u1\n")
    side = ours(server, tmp_path / "work")
    side.commit("foo", {"a": b"1"})
    p = side.push("foo", "u1")
    assert p.returncode != 0 and "'VREF/ESC': helper program missing" in p.stderr


def test_vrefs_listed_only_when_rules_have_them(server: Server) -> None:
    """The update hook loads the VREF machinery only when this list is not empty."""
    from gitolite_triggers.conf.query import access_vrefs
    from gitolite_triggers.rc import load_rc

    compile_conf(server, "repo foo\n  RW+ = u1\n")
    assert access_vrefs(load_rc(), "foo", "u1", "W", "refs/heads/master") == ("refs/.*", [])
    compile_conf(
        server, "repo foo\n  RW+ = u1\n  - VREF/COUNT/1 = u1\n  - NAME/x = u1\n  - NAME/y = u1 u2\n"
    )
    assert access_vrefs(load_rc(), "foo", "u1", "W", "refs/heads/master")[1] == [
        "VREF/COUNT/1",
        "VREF/NAME/x",
        "VREF/NAME/y",
    ]


# -- the raw+numstat parser MAX_NEWBIN_SIZE reads (hostile file names) -----------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_names = st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=12
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "M", "D", "T", "R100", "C075"]), _names, _names, st.booleans()
        ),
        max_size=8,
    )
)
def test_raw_numstat_parser_survives_any_file_name(
    entries: list[tuple[str, str, str, bool]],
) -> None:
    """Whatever the names hold (tabs, newlines, ':' at the start), each file comes back
    with its own status, blobs, name and binary flag."""
    from gitolite_triggers.vref.builtins import _parse_raw_numstat

    raw, num = [], []
    for i, (status, old, new, binary) in enumerate(entries):
        ob, nb = f"{i:040x}", f"{i + 100:040x}"
        two = status[0] in "RC"
        raw.append(f":100644 100644 {ob} {nb} {status}".encode())
        raw.extend([old.encode(), new.encode()] if two else [new.encode()])
        stat = b"-\t-\t" if binary else b"1\t2\t"
        num.extend([stat, old.encode(), new.encode()] if two else [stat + new.encode()])
    data = b"\0".join(raw + num) + (b"\0" if entries else b"")
    got = _parse_raw_numstat(data)
    want = [
        (status, f"{i:040x}", f"{i + 100:040x}", new, binary)
        for i, (status, _old, new, binary) in enumerate(entries)
    ]
    assert got == want


def test_filetype_autogenerated(server: Server, tmp_path: Path) -> None:
    compile_conf(
        server,
        "repo foo\n  RW+ = u1 u2\n  RW+ VREF/FILETYPE = u2\n  - VREF/FILETYPE/AUTOGENERATED = @all\n",
    )
    side = ours(server, tmp_path / "w")
    side.commit(
        "foo",
        {
            "A.java": b"class A {}\n",
            "b.txt": b"Generated by the protocol buffer compiler.  DO NOT EDIT\n",
        },
    )
    assert side.push("foo", "u1").returncode == 0
    gen = b"// Generated by the protocol buffer compiler.  DO NOT EDIT!\nclass B {}\n"
    side.commit("foo", {"src/B.java": gen})
    p = side.push("foo", "u1")
    assert p.returncode != 0
    assert "W VREF/FILETYPE/AUTOGENERATED foo u1 DENIED by VREF/FILETYPE/AUTOGENERATED" in p.stderr
    assert side.push("foo", "u2").returncode == 0  # its RW+ VREF/FILETYPE line comes first


def test_count_no_signoff(server: Server, tmp_path: Path) -> None:
    compile_conf(server, "repo foo\n  RW+ = u1\n  - VREF/COUNT/2/NO_SIGNOFF = u1\n")
    side = ours(server, tmp_path / "w")
    side.commit("foo", {"a": b"1", "b": b"2", "c": b"3"})
    p = side.push("foo", "u1")
    assert p.returncode != 0
    assert (
        "top commit message should include the text '3 new files signed-off by: t@example.com'"
        in p.stderr
    )
    side.commit("foo", {}, message="more\n\n  3 new files Signed-off by: T@example.com\n")
    assert side.push("foo", "u1").returncode == 0


def test_hanging_helper_is_killed_at_the_update_timeout(server: Server, tmp_path: Path) -> None:
    """A helper (site code, fed the pusher's commits) that hangs must not hold the push
    for ever: TRIGGER_TIMEOUTS' ``update`` figure kills its whole process group and
    refuses the push (fail closed)."""
    import time

    local = server.home / "local"
    (local / "VREF").mkdir(parents=True)
    prog = local / "VREF" / "SLOW"
    prog.write_text("#!/bin/sh\nsleep 30 &\nwait\n")
    prog.chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {local}\nTRIGGER_TIMEOUTS: {{update: 1}}\n")
    compile_conf(server, "repo foo\n  RW+ = u1\n  - VREF/SLOW = u1\n")
    side = ours(server, tmp_path / "work")
    side.commit("foo", {"a": b"1"})
    started = time.monotonic()
    p = side.push("foo", "u1")
    assert time.monotonic() - started < 15
    assert p.returncode != 0 and "VREF/SLOW: helper program timed out after 1s" in p.stderr
