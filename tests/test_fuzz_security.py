"""Property-based fuzzing of everything a client or an admin can type (issue 10).

Hypothesis generates repo names, SSH_ORIGINAL_COMMAND strings, refs, user names, conf
lines and log fields, and checks the properties docs/security.md promises:

- a repo name is either refused or canonical: its path is inside the repo base, and no
  two accepted names reach the same folder (so a name's rules are exactly its own);
- an alias of a protected repo (``hr//payroll``, ``hr/./payroll``...) never gets past
  that repo's deny rule;
- no input raises anything but the module's own refusal (nothing that would become a
  traceback), and the wrapper itself never prints one;
- every check finishes within a time bound, whatever the pattern and the name (the
  regex engine is linear; a backtracking one fails these in seconds);
- a log record stays one line for every line-splitting reader.

The CI profile (tests/conftest.py) is derandomised with a small example budget; run
``bin/test tests/test_fuzz_security.py --hypothesis-profile=deep`` to fuzz for longer.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitolite_triggers import glog, names
from gitolite_triggers.conf import query
from gitolite_triggers.conf.compile import compile_conf
from gitolite_triggers.conf.errors import AccessError, ConfError
from gitolite_triggers.conf.parse import parse_conf
from gitolite_triggers.rc import load_rc
from gitolite_triggers.shell.soc import CommandRequest, GitRequest, SocError, parse
from tests.support.server import Server, clean_env, make_server

# A check of one input that takes longer than this is a blow-up, not a slow machine:
# a backtracking regex needs minutes on the inputs generated here.
TIME_BOUND = 2.0

# ---------------------------------------------------------------- strategies

SEGMENTS = ["", ".", "..", ".git", "x.git", "hr", "payroll", "a", "b-c", "@x", "A_1", "..a"]
NAME_CHARS = "abcAZ09-._@/+ ~'\"\\$;*?[]()\n\t\x00\u2028\u00e9"


@st.composite
def repo_names(draw: st.DrawFn) -> str:
    """Names built from path-like segments (aliases, dots, empties) or from raw characters."""
    if draw(st.booleans()):
        segs = draw(st.lists(st.sampled_from(SEGMENTS) | st.text("ab.-", max_size=4), max_size=8))
        name = "/".join(segs)
        if draw(st.booleans()):
            name = "/" + name
        if draw(st.booleans()):
            name += "/"
        return name
    return draw(st.text(NAME_CHARS, max_size=40))


def aliases_of(name: str) -> st.SearchStrategy[str]:
    """Spellings of ``name`` that a file system resolves to the same folder."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        segs = name.split("/")
        out: list[str] = []
        for i, seg in enumerate(segs):
            out.append(seg)
            if i < len(segs) - 1:
                out.extend(draw(st.lists(st.sampled_from(["", "."]), min_size=0, max_size=2)))
        alias = "/".join(out)
        if draw(st.booleans()):
            alias = f"{alias}/../{segs[-1]}" if len(segs) == 1 else alias + "/."
        return alias

    return build()


SOC_VERBS = ["git-upload-pack", "git-receive-pack", "git-upload-archive", "info", "help", "perms"]


@st.composite
def socs(draw: st.DrawFn) -> str:
    """SSH_ORIGINAL_COMMAND values: a verb and a (quoted, slashed, suffixed) name, or noise."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.text(max_size=80))
    verb = draw(st.sampled_from(SOC_VERBS))
    name = draw(repo_names())
    quote = draw(st.sampled_from(["", "'"]))
    lead = draw(st.sampled_from(["", "/", "//", "~/"]))
    tail = draw(st.sampled_from(["", ".git", ".git/", "/", ".git1", "'"]))
    sep = draw(st.sampled_from([" ", "  ", "\t"]))
    return f"{verb}{sep}{quote}{lead}{name}{tail}{quote}"


REF_UNITS = ["a", "0", "-", "feature/", "x-y", "/", ".", "..", "@{", " ", ":", "\n", "é"]
refs = st.builds(
    lambda head, units: head + "".join(units),
    st.sampled_from(["refs/heads/", "refs/heads/feature/", "refs/tags/", "any", "VREF/NAME/", ""]),
    st.lists(st.sampled_from(REF_UNITS), max_size=60),
)
user_names = st.text("abjdoe.x-@+_0\n ", min_size=0, max_size=20) | st.sampled_from(
    ["alice", "eve", "j.doe", "jxdoe", "@all", "alice\n", "-x"]
)

CONF_TOKENS = [
    "repo", "@g", "=", "-", "R", "RW", "RW+", "RWC", "RW+CD", "C", "config", "option",
    "include", "subconf", "desc", "CREATOR", "@all", "a", "a/b", "a//b", "a/./b", "../x",
    "sandbox/([a-z0-9]+-?)+", "refs/heads/feature/([a-z0-9]+-?)+$", "(a)\\1", "(?=x)",
    "[a-z]*", '"', '""', "#", "foo.bar", "deny-rules", "1", "0", "$", "`id`", "\\", "{a,b}",
    "VREF/NAME/x", "master", "refs/tags/v[0-9]",
]  # fmt: skip


@st.composite
def conf_texts(draw: st.DrawFn) -> str:
    """Conf files: lines of conf-ish tokens, some well-formed repo blocks among them."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            lines.append(" ".join(draw(st.lists(st.sampled_from(CONF_TOKENS), max_size=10))))
        else:
            perm = draw(st.sampled_from(["R", "RW+", "-", "RWC", "RW+CD"]))
            refex = draw(st.sampled_from(["", "master", "refs/tags/", "(a+)+$", "x|y"]))
            user = draw(st.sampled_from(["alice", "@g", "CREATOR", "@all", "bad user"]))
            lines.append(f"repo {draw(repo_names())}\n    {perm} {refex} = {user}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=60)))
    if draw(st.booleans()):  # quotes and no '#': the comment stripper's worst case
        lines.append("desc = " + draw(st.text('"a ', min_size=20, max_size=60)))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- helpers


def timed(fn, *args):  # type: ignore[no-untyped-def]
    """Call ``fn(*args)``, assert it returns within TIME_BOUND, return its result."""
    start = time.monotonic()
    try:
        return fn(*args)
    finally:
        took = time.monotonic() - start
        assert took < TIME_BOUND, f"{fn.__name__}{args!r} took {took:.1f}s"


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One compiled account for the whole module (Hypothesis reruns a test many times).

    The process environment points at it while the module runs, so in-process
    ``load_rc()`` sees it; the previous environment is restored afterwards.
    """
    srv = make_server(tmp_path_factory.mktemp("fuzz") / "home")
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("GL_", "GIT_", "SSH_", "BUILDKITE_")):
            del os.environ[key]
    os.environ.update(clean_env(srv.home))
    conf = srv.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text(
        "repo hr/payroll\n    - = eve\n    R = @all\n    option deny-rules = 1\n"
        "repo proj/app\n    - master = eve\n    RW+ = @all\n"
        "repo sandbox/([a-z0-9]+-?)+\n    C = @all\n    RW+ = @all\n"
        "repo dev/CREATOR/[a-z0-9.]+\n    C = @all\n    RW+ = CREATOR\n    R = @all\n"
        "repo feat\n    RW+ refs/heads/feature/([a-z0-9]+-?)+$ = @all\n    R = @all\n"
        "repo @all\n    R = @all\n    RW = eve\n"  # last: a repo's own rules come first
    )
    compile_conf(load_rc())
    for repo in ("hr/payroll", "proj/app", "feat"):
        assert (srv.repo_base / f"{repo}.git").is_dir()
    yield srv
    os.environ.clear()
    os.environ.update(saved)


# ---------------------------------------------------------------- names


@given(repo_names())
def test_repo_name_is_refused_or_canonical(name: str) -> None:
    problem = timed(names.repo_name_problem, name)
    if problem is not None:
        assert isinstance(problem, str) and problem
        return
    base = "/srv/git/repositories"
    path = f"{base}/{name}.git"
    assert posixpath.normpath(path) == path, "an accepted name must be its own canonical path"
    assert path.startswith(base + "/") and ".." not in name.split("/")
    assert "\n" not in name and len(name) <= names.MAX_REPO_NAME_LENGTH
    assert name.count("/") < names.MAX_REPO_DEPTH
    assert names.is_repo_name(name)


@given(user_names)
def test_user_name_check_is_a_full_match(user: str) -> None:
    if names.is_user_name(user):
        assert user == user.strip() and "\n" not in user and user.removeprefix("@")[:1].isalnum()
        assert len(user) <= names.MAX_USER_NAME_LENGTH


# ---------------------------------------------------------------- SSH_ORIGINAL_COMMAND


@given(socs())
def test_soc_is_refused_or_names_a_canonical_repo(soc: str) -> None:
    try:
        req = timed(parse, soc)
    except SocError as e:
        assert str(e) and "\n" not in str(e)
        return
    if isinstance(req, GitRequest):
        assert names.repo_name_problem(req.repo) is None, req
    else:
        assert isinstance(req, CommandRequest) and req.name in SOC_VERBS


# ---------------------------------------------------------------- the access check


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["hr/payroll", "proj/app"]).flatmap(aliases_of), st.sampled_from("RW"))
def test_alias_of_a_protected_repo_never_passes_its_deny_rule(
    account: Server, alias: str, aa: str
) -> None:
    # eve is denied everything on hr/payroll (deny-rules), and pushing master on proj/app
    if alias.startswith("proj"):
        aa, ref = "W", "refs/heads/master"
    else:
        ref = "any"
    try:
        result = timed(query.access, load_rc(), alias, "eve", aa, ref)
    except AccessError:
        return
    assert query.is_denied(result), f"{alias!r} got {result!r}"


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(repo_names(), user_names, st.sampled_from(["R", "W", "+", "C", "^C", "D"]), refs)
def test_access_answers_or_refuses_quickly(
    account: Server, repo: str, user: str, aa: str, ref: str
) -> None:
    os.environ["GL_USER"] = user
    try:
        result = timed(query.access, load_rc(), repo, user, aa, ref)
    except AccessError as e:
        assert str(e)
        return
    assert isinstance(result, str) and result


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text("az09", min_size=24, max_size=34), st.sampled_from(["", "-", "a-"]))
def test_backtracking_shapes_stay_linear(account: Server, run: str, end: str) -> None:
    # a long run of [a-z0-9] is 2**n ways to split for `([a-z0-9]+-?)+`; the final '_'
    # (valid in a name, not in the pattern) makes a backtracking engine try them all
    tail = run + end + "_"
    rc = load_rc()
    os.environ["GL_USER"] = "alice"
    for repo, ref in ((f"sandbox/{tail}", "any"), ("feat", f"refs/heads/feature/{tail}")):
        try:
            result = timed(query.access, rc, repo, "alice", "W", ref)
        except AccessError:
            continue
        assert result


# ---------------------------------------------------------------- conf lines


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(conf_texts())
def test_conf_parses_or_names_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    d = tmp_path_factory.mktemp("conf")
    (d / "gitolite.conf").write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        timed(parse_conf, d)
    except ConfError as e:
        assert e.errors
        for file, line, message in e.errors:
            assert file and message and isinstance(line, int)
            assert str(tmp_path_factory.getbasetemp()) not in message


SUB_TOKENS = ["sales/", "x", "..*", ".*", "|", "(", ")", "[", "]", "\\Q", "\\E", "\\", "?", "$", "^"]  # fmt: skip
OUTSIDE = ["gitolite-admin", "x", "salesx", "other/sales/y", ""]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SUB_TOKENS), min_size=1, max_size=8).map("".join))
def test_subconf_repo_pattern_never_reaches_outside_its_group(
    tmp_path_factory: pytest.TempPathFactory, item: str
) -> None:
    """Whatever a sub-admin writes on a ``repo`` line, a pattern the parse keeps for it
    matches only names the main conf's ``@sales = sales/..*`` covers."""
    from gitolite_triggers import linear_re

    d = tmp_path_factory.mktemp("conf")
    (d / "gitolite.conf").write_text('@sales = sales/..*\nsubconf "sales.conf"\n')
    (d / "sales.conf").write_text(f"repo {item}\n    RW+ = eve\n")
    try:
        parsed = timed(parse_conf, d)
    except ConfError:
        return
    for key, rules in parsed.repos.items():
        if "eve" not in rules or key == "sales":
            continue
        try:
            rx = linear_re.compile("^" + key + "$")
        except linear_re.RegexError:
            continue
        for name in OUTSIDE:
            assert rx.search(name) is None, (item, key, name)


# ---------------------------------------------------------------- the log


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_log_record_stays_one_line(fields: list[str]) -> None:
    line = glog.format_line("4242", fields).decode("utf-8")
    assert len(line.splitlines()) == 1, line
    assert line.endswith("\n") and line.count("\n") == 1
    text = line[:-1]
    assert all(c == "\t" or c.isprintable() for c in text), repr(text)


# ---------------------------------------------------------------- the real wrapper


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(socs())
def test_wrapper_never_shows_a_traceback(account: Server, soc: str) -> None:
    if "\x00" in soc:
        soc = soc.replace("\x00", "")  # an environment variable cannot hold NUL
    env = {**account.env, "SSH_ORIGINAL_COMMAND": soc, "SSH_CONNECTION": "192.0.2.9 1 127.0.0.1 22"}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "gitolite_triggers", "shell", "eve"],
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        cwd=account.home,
    )
    assert time.monotonic() - start < 20
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and 'File "' not in err, err
    assert str(account.home) not in err, err
    if err.startswith("FATAL: "):
        assert proc.returncode != 0 and proc.stdout == b"", (proc.returncode, proc.stdout)
