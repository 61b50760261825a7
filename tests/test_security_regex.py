"""Issue 10, defect 2: matching a user-chosen string against a conf pattern takes linear time.

Python's ``re`` backtracks: ``sandbox/([a-z0-9]+-?)+`` against a 40-character repo name
(or the refex ``refs/heads/feature/([a-z0-9]+-?)+$`` against a pushed ref) would run
for hours. Every such match now goes through gitolite_triggers/linear_re.py (RE2).

Proved here through the real paths: the wrapper answering a hostile fetch, a push of a
hostile ref through the wrapper into the real update hook, an admin push of a conf that
RE2 cannot take (refused with file:line, last good state kept), a store compiled before
RE2 (denied, fail closed), the rc's buildkite ``repos`` regex; and that linear_re
answers as Python's ``re`` does on gitolite-style patterns (Hypothesis, fixed seed).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitolite_triggers import linear_re
from gitolite_triggers.conf import check
from tests.support.adminkeys import make_key
from tests.support.adminrepo import bare_git, clone_admin, commit_all, push_as
from tests.support.server import Server

WILD = "sandbox/([a-z0-9]+-?)+"
REFEX = "refs/heads/feature/([a-z0-9]+-?)+$"
# 40 characters of [a-z] and one that the class refuses: Python's re tries ~2**40 splits.
HOSTILE_REPO = "sandbox/" + "a" * 40 + "A"
HOSTILE_REF = "refs/heads/feature/" + "a" * 40 + "A"
# Long names that do match: the answer must be "yes", quickly.
GOOD_REPO = "sandbox/" + "ab-" * 20 + "c"
GOOD_REF = "refs/heads/feature/" + "ab-" * 20 + "c"
BOUND = 5.0  # seconds; Python's re would need hours for these inputs

CONF = f"""\
repo gitolite-admin
    RW+     =   admin

repo {WILD}
    C       =   alice
    RW+     =   alice

repo proj
    RW+     master                      =   alice
    RW+     {REFEX}  =   alice
    RW+     refs/heads/USER/            =   @all
"""


def compiled(server: Server, conf: str = CONF) -> None:
    folder = server.admin_base / "conf"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gitolite.conf").write_text(conf)
    r = server.cli("compile")
    assert r.returncode == 0, r.stderr


def session(
    server: Server, user: str, soc: str, flags: tuple[str, ...] = ()
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One ssh session through the real wrapper (as sshd runs it, minus the network)."""
    env = {
        **server.env,
        "SSH_ORIGINAL_COMMAND": soc,
        "SSH_CONNECTION": "192.0.2.7 4242 127.0.0.1 22",
    }
    started = time.monotonic()
    r = subprocess.run(
        [sys.executable, *flags, "-m", "gitolite_triggers", "shell", user],
        env=env,
        input="0000",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.home,
    )
    return time.monotonic() - started, r


def log_text(server: Server) -> str:
    return server.log_text()


# ---------------------------------------------------------------- the inputs are hostile


@pytest.mark.parametrize(
    ("pattern", "subject"), [("^" + WILD + "$", HOSTILE_REPO), ("^" + REFEX, HOSTILE_REF)]
)
def test_the_inputs_really_are_hostile_to_python_re(pattern: str, subject: str) -> None:
    """Without this, a fast answer below would prove nothing: Python's re does not finish."""
    code = f"import re; re.search({pattern!r}, {subject!r})"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], timeout=1.5)
    assert linear_re.compile(pattern).search(subject) is None


# ---------------------------------------------------------------- wild repo names


def test_hostile_repo_name_is_denied_quickly_and_a_long_good_one_created(server: Server) -> None:
    compiled(server)
    took, r = session(server, "alice", f"git-upload-pack '{HOSTILE_REPO}'")
    assert took < BOUND, took
    assert r.returncode != 0 and r.stdout == ""
    assert "DENIED" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (server.repo_base / f"{HOSTILE_REPO}.git").exists()

    took, r = session(server, "alice", f"git-upload-pack '{GOOD_REPO}'")
    assert took < BOUND, took
    assert (r.returncode, r.stdout) == (0, "0000"), r.stderr
    assert (server.repo_base / f"{GOOD_REPO}.git" / "gl-creator").read_text().strip() == "alice"
    # bob may not create there: the pattern matched, his rules did not
    took, r = session(server, "bob", f"git-upload-pack '{'sandbox/' + 'cd-' * 20 + 'e'}'")
    assert took < BOUND and r.returncode != 0 and "DENIED" in r.stderr, r.stderr


# ---------------------------------------------------------------- pushed refs


FAKE_SSH = """\
#!/bin/sh
# git runs: <this> HOST COMMAND (GIT_SSH_VARIANT=simple); be sshd + the forced command
for last; do :; done
SSH_ORIGINAL_COMMAND="$last" exec {python} -m gitolite_triggers shell "$FAKE_SSH_USER"
"""


def push_env(server: Server, tmp_path: Path, user: str) -> dict[str, str]:
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH.format(python=sys.executable))
    fake.chmod(0o755)
    return {
        **server.env,
        "GIT_SSH_COMMAND": str(fake),
        "GIT_SSH_VARIANT": "simple",
        "FAKE_SSH_USER": user,
    }


def pushed(
    server: Server, work: Path, env: dict[str, str], ref: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    r = subprocess.run(
        ["git", "-C", str(work), "push", "server:proj", f"HEAD:{ref}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return time.monotonic() - started, r


@pytest.fixture
def work(server: Server, tmp_path: Path) -> Path:
    compiled(server)
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=server.env)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
        env=server.env,
    )
    return work


def test_hostile_ref_is_denied_quickly_by_the_update_hook(
    server: Server, work: Path, tmp_path: Path
) -> None:
    env = push_env(server, tmp_path, "alice")
    took, r = pushed(server, work, env, HOSTILE_REF)
    assert took < BOUND, took
    assert r.returncode != 0
    assert f"W {HOSTILE_REF} proj alice DENIED by fallthru" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    refs = bare_git(server, "proj", "for-each-ref", "--format=%(refname)").stdout.split()
    assert refs == []

    took, r = pushed(server, work, env, GOOD_REF)
    assert took < BOUND, took
    assert r.returncode == 0, r.stderr
    refs = bare_git(server, "proj", "for-each-ref", "--format=%(refname)").stdout.split()
    assert refs == [GOOD_REF]


def test_a_refex_broken_by_the_user_name_denies_with_a_clear_message(
    server: Server, work: Path, tmp_path: Path
) -> None:
    """``refs/heads/USER/`` for user ``c++`` is ``refs/heads/c++/``: a possessive quantifier,
    which RE2 has not. The push is denied (fail closed), never matched with Python's re."""
    env = push_env(server, tmp_path, "c++")
    took, r = pushed(server, work, env, "refs/heads/c++/topic")
    assert took < BOUND
    assert r.returncode != 0
    assert "possessive quantifier, which cannot be matched in linear time" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert bare_git(server, "proj", "for-each-ref").stdout == ""


# ---------------------------------------------------------------- compile time


@pytest.fixture
def admin(server: Server, tmp_path: Path) -> Path:
    r = server.cli("setup", "--pubkey", str(make_key(tmp_path / "keys", "admin")))
    assert r.returncode == 0, r.stdout + r.stderr
    return clone_admin(server, tmp_path / "gitolite-admin")


GOOD_ADMIN_CONF = """\
repo gitolite-admin
    RW+     =   admin

repo sandbox/..*
    C       =   alice
    RW+     =   alice
"""


def can(server: Server, repo: str, user: str, perm: str = "R", ref: str = "any") -> bool:
    return server.cli("access", "-q", repo, user, perm, ref).returncode == 0


def test_conf_that_re2_cannot_take_is_refused_with_file_and_line(
    server: Server, admin: Path
) -> None:
    (admin / "conf" / "gitolite.conf").write_text(GOOD_ADMIN_CONF)
    commit_all(admin, server.env, "good")
    assert push_as(server, admin, "admin").returncode == 0
    store = server.admin_base / "conf" / "compiled.rules"
    store_before = store.read_bytes()
    assert can(server, "sandbox/x", "alice", "C")

    bad = GOOD_ADMIN_CONF + (
        "\n"  # line 7
        "repo echo/(a)\\1\n"  # line 8: a backreference in a wild repo pattern
        "    RW+     =   alice\n"
        "repo proj\n"  # line 10
        "    RW+     refs/heads/x++   =   alice\n"  # line 11: possessive (Python 3.11 takes it)
        "    RW+     refs/heads/(?=x) =   alice\n"  # line 12: lookahead ('=' is refused first)
        "@pats = team/([a-z])\\1\n"  # line 13: a backreference in a group member pattern
    )
    (admin / "conf" / "gitolite.conf").write_text(bad)
    commit_all(admin, server.env, "bad")
    r = push_as(server, admin, "admin")
    assert r.returncode != 0  # refused in pre-receive: the ref did not move, nothing changed
    text = "\n".join(ln for ln in r.stderr.splitlines() if ln.startswith("remote:"))
    assert (
        "conf/gitolite.conf:8: bad repo pattern 'echo/(a)\\1': "
        "pattern uses a backreference, which cannot be matched in linear time" in text
    ), text
    assert (
        "conf/gitolite.conf:11: bad refex 'refs/heads/x++': "
        "pattern uses a possessive quantifier, which cannot be matched in linear time" in text
    ), text
    assert "conf/gitolite.conf:12:" in text, text
    assert (
        "conf/gitolite.conf:13: bad group member pattern 'team/([a-z])\\1': "
        "pattern uses a backreference, which cannot be matched in linear time" in text
    ), text
    assert "refused: nothing changed (the rules in force are still those of" in text
    assert "Traceback" not in r.stderr
    # the last good state is in force
    assert store.read_bytes() == store_before
    assert can(server, "sandbox/x", "alice", "C")
    assert not (server.repo_base / "proj.git").exists()
    assert (server.admin_base / "conf" / "gitolite.conf").read_text() == GOOD_ADMIN_CONF


def test_store_from_before_re2_fails_closed(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled store holding a pattern RE2 refuses (written by a version that checked
    with Python's re): every check that would need it is denied, with a clear message."""
    from gitolite_triggers.conf import parse
    from gitolite_triggers.conf.compile import compile_conf
    from gitolite_triggers.rc import load_rc

    conf = server.admin_base / "conf"
    conf.mkdir(parents=True)
    (conf / "gitolite.conf").write_text("repo echo/(a)\\1\n    C = alice\n    RW+ = alice\n")
    monkeypatch.setattr(parse, "_check_regex", lambda rx, msg: re.compile(rx))  # the old check
    compile_conf(load_rc(), fire_triggers=False)

    took, r = session(server, "alice", "git-upload-pack 'echo/aa'")
    assert took < BOUND
    assert r.returncode != 0 and r.stdout == ""
    assert "FATAL:" in r.stderr and "cannot be matched in linear time" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (server.repo_base / "echo").exists()
    assert "cannot be matched in linear time" in log_text(server)


# ---------------------------------------------------------------- buildkite and the rc


def test_buildkite_repos_regex_is_linear_and_checked_by_rc_check(server: Server) -> None:
    path = server.write_rc(
        f"buildkite:\n  pipelines:\n    - repos: '{WILD}'\n      org: o\n      pipeline: p\n",
        name="50-bk.yaml",
    )
    code = (
        "import time\n"
        "from gitolite_triggers.buildkite.config import target_for\n"
        "from gitolite_triggers.rc import load_rc\n"
        "rc = load_rc()\n"
        "t = time.monotonic()\n"
        f"hostile = target_for(rc, {HOSTILE_REPO!r}, options={{}})\n"
        f"good = target_for(rc, {GOOD_REPO!r}, options={{}})\n"
        "print(hostile is None, good.pipeline, time.monotonic() - t < 1)\n"
    )
    started = time.monotonic()
    r = server.python(code)
    assert time.monotonic() - started < BOUND
    assert r.stdout.split() == ["True", "p", "True"], r.stderr

    server.write_rc(
        "buildkite:\n  pipelines:\n    - repos: 'apps/(?!secret).*'\n      org: o\n      pipeline: p\n",
        name="50-bk.yaml",
    )
    r = server.cli("rc", "check")
    assert r.returncode == 1
    assert (
        f"{path}:3:14: buildkite.pipelines[0].repos: expected a regex matched against the whole"
        " repo name, got 'apps/(?!secret).*': pattern uses a lookahead, which cannot be matched"
        " in linear time" in r.stderr
    ), r.stderr


# ---------------------------------------------------------------- the hot path


def imported(stderr: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_re2_is_imported_only_when_a_regex_must_run(server: Server) -> None:
    """Through the account's lean launcher (``-IS``, as sshd runs it): a fetch that needs
    no regex imports neither re nor re2; one that needs a pattern imports re2, not re."""
    from gitolite_triggers import launcher

    compiled(server)
    script = launcher.write_shell_launcher(str(server.admin_base))
    flags = Path(script).read_text().splitlines()[0].split()[1:]  # the shebang's flags: -IS

    def fetch(repo: str) -> set[str]:
        env = {**server.env, "SSH_ORIGINAL_COMMAND": f"git-upload-pack '{repo}'"}
        r = subprocess.run(
            [sys.executable, *flags, "-X", "importtime", script, "shell", "alice"],
            env=env,
            input="0000",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (r.returncode, r.stdout) == (0, "0000"), r.stderr[-2000:]
        return imported(r.stderr)

    # proj is a plain repo and the wild pattern's prefix rules it out: no regex at all
    mods = fetch("proj")
    assert flags == ["-IS"] and "gitolite_triggers.conf.query" in mods
    assert "re2" not in mods and "re" not in mods
    # a wild repo under sandbox/ needs the pattern: RE2 runs, re still does not (the
    # first fetch creates the repo, and creating imports more: the second is measured)
    fetch(GOOD_REPO)
    assert (server.repo_base / f"{GOOD_REPO}.git").is_dir()
    mods = fetch(GOOD_REPO)
    assert "re2" in mods and "re" not in mods


# ---------------------------------------------------------------- linear_re itself


def test_refusals_say_why() -> None:
    cases = {
        "(a)\\1": "pattern uses a backreference, which cannot be matched in linear time",
        "a(?=x)": "pattern uses a lookahead, which cannot be matched in linear time",
        "(?<!a)b": "pattern uses a lookbehind, which cannot be matched in linear time",
        "(?>a)": "pattern uses an atomic group, which cannot be matched in linear time",
        "a*+": "pattern uses a possessive quantifier, which cannot be matched in linear time",
        "a(": "invalid regex: missing ): a(",
        "x" * (linear_re.MAX_PATTERN_LENGTH + 1): "at most 8192 are allowed",
        "a\udc80": "pattern is not valid UTF-8",
    }
    for pattern, message in cases.items():
        with pytest.raises(linear_re.RegexError, match=re.escape(message)):
            linear_re.compile(pattern)
        with pytest.raises(check.RegexError):  # the same class the access check catches
            check.rx(pattern)


def test_memory_is_bounded() -> None:
    """A short pattern whose program would be huge is refused, not built (RE2's max_mem)."""
    for huge in ("\\pL{1000}", "[a-z]{1000}[0-9]{1000}\\pL{1000}"):
        with pytest.raises(linear_re.RegexError, match="pattern is too large"):
            linear_re.compile(huge)
    with pytest.raises(linear_re.RegexError, match="invalid repetition size"):
        linear_re.compile("a{1001}")


def test_perl_spellings_and_stricter_dollar() -> None:
    assert linear_re.compile("^a{,3}$").search("aa")  # {,N} is {0,N} (Perl 5.34+, Python)
    assert not linear_re.compile("^a{,3}$").search("a{,3}")
    assert linear_re.compile("[{,3}]").search("{")  # a class stays a class
    assert linear_re.compile("\\{,3}").search("{,3}")  # an escaped brace stays literal
    assert linear_re.compile("a\\Z").search("xa")  # \Z, which RE2 spells \z
    assert linear_re.compile("^[[:alpha:]]{,2}$").search("ab")
    # RE2's $ is the very end: a trailing newline (which no valid name has) never matches
    assert re.search("^foo$", "foo\n") and not linear_re.compile("^foo$").search("foo\n")
    # \b, case and dot as in Perl
    assert linear_re.compile("\\bbob\\b").search("u/bob/x") and not linear_re.compile(
        "\\bbob\\b"
    ).search("bobby")
    assert not linear_re.compile("^Foo$").search("foo") and linear_re.compile("(?i)^Foo$").search(
        "foo"
    )
    assert not linear_re.compile("^a.b$").search("a\nb")


def test_any_subject_string_is_answered_never_raises() -> None:
    p = linear_re.compile("^r.*x")
    for subject in ("r\udc80x", "r\ud800x", "rö\u2028x", "r\x00x", "r\U0001f600x"):
        m = p.search(subject)
        assert m is not None and m.group() == subject and m.span() == (0, len(subject))
    assert linear_re.compile("é.").search("xéy\udc80").span() == (1, 3)


# ---------------------------------------------------------------- equivalence with re

_PROFILE = settings.default  # the profile chosen with --hypothesis-profile (CI: default)
FUZZ = settings(
    max_examples=max(300, _PROFILE.max_examples),
    derandomize=_PROFILE.max_examples <= 300,  # a fixed seed in CI; a deep run explores
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

NAME_CHARS = "abcxyz019-._/@+"
names_ = st.text(alphabet=NAME_CHARS, max_size=14)
literal = st.sampled_from(list("abcxyz019-_/@") + ["\\.", "\\+", "foo", "bar/"])
cls = st.sampled_from(
    ["[a-z]", "[0-9]", "[^/]", "[a-c0-9-]", "[.]", "[^a]", "\\d", "\\w", "[]a]", "[^]a]"]
)
atom = st.one_of(literal, cls, st.just("."), st.just("CREATOR"))
quant = st.sampled_from(["", "", "", "*", "+", "?", "{2}", "{1,3}", "{,2}", "*?", "+?"])


def _patterns() -> st.SearchStrategy[str]:
    piece = st.builds(lambda a, q: a + q, atom, quant)
    seq = st.lists(piece, min_size=1, max_size=5).map("".join)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        alt = st.lists(inner, min_size=1, max_size=3).map("|".join)
        group = st.builds(lambda g, a, q: f"({g}{a}){q}", st.sampled_from(["", "?:"]), alt, quant)
        return st.lists(st.one_of(group, seq), min_size=1, max_size=3).map("".join)

    body = st.recursive(seq, extend, max_leaves=6)
    # a top-level alternation too: gitolite's /^a|b$/ quirk (not grouped) must survive
    return st.one_of(body, st.lists(body, min_size=2, max_size=3).map("|".join))


patterns = _patterns()


@FUZZ
@given(pattern=patterns, subjects=st.lists(names_, min_size=1, max_size=8))
def test_same_answers_as_python_re(pattern: str, subjects: list[str]) -> None:
    """As a wild repo pattern (``/^KEY$/``) and as a refex (``/^REFEX/``), through check.py."""
    anchored = re.compile("^" + pattern + "$")
    prefixed = re.compile("^" + pattern)
    for s in subjects:
        ours = check._anchored(pattern).search(s) is not None
        assert ours == (anchored.search(s) is not None), (pattern, s)
        assert check.refex_matches(pattern, s) == (prefixed.search(s) is not None), (pattern, s)
        m = linear_re.compile(pattern).search(s)
        py = re.search(pattern, s)
        assert (m is None) == (py is None), (pattern, s)
        if m is not None and py is not None:
            # leftmost-first, as Perl: the same match start; the same text for greedy runs
            assert m.start() == py.start(), (pattern, s)


def test_gitolite_style_patterns_agree() -> None:
    """The patterns gitolite users write (and the differential test's), on many names."""
    import random

    rnd = random.Random(10)
    keys = [
        "foo/..*",
        "users/CREATOR/..*",
        "wild/CREATOR/..*",
        "tmp/[a-z]+[0-9]*",
        "pub/..*",
        "u/CREATOR/[a-z0-9]+",
        "team[0-9]/.*",
        "ab*c",
        "a{2}b",
        "[a-z]..*",
        "foo|bar",
        "(x|y)/z",
        "x\\.y",
        "^anchored",
        "trailing$",
        WILD,
        "refs/tags/v[0-9]",
        "refs/heads/(a|b)x",
        "rel-[0-9]+",
        "master$",
        REFEX,
        "(dev|rel)/[0-9]{1,3}\\.[0-9]+",
    ]
    words = ["foo", "users", "bob", "wild", "tmp", "pub", "u", "team1", "a", "b", "x", "y", "z"]
    words += ["refs", "heads", "tags", "v1", "rel-12", "master", "sandbox", "ab-", "c", ".", "/"]
    subjects = ["".join(rnd.choice(words) for _ in range(rnd.randint(0, 6))) for _ in range(2000)]
    for key in keys:
        for s in subjects + [GOOD_REPO, GOOD_REF]:
            assert (check._anchored(key).search(s) is not None) == bool(
                re.search("^" + key + "$", s)
            ), (key, s)
            assert check.refex_matches(key, s) == bool(re.search("^" + key, s)), (key, s)


def test_check_keeps_no_python_re_path() -> None:
    """check.py holds no ``re`` cache of its own; its regexes are linear_re's."""
    assert not hasattr(check, "_rx_cache")
    assert isinstance(check.rx("refs/heads/(a|b)"), linear_re.Pattern)


PERL_MATCHER = r"""
my @names = split /\n/, $ARGV[1], -1; pop @names;
open my $fh, '<', $ARGV[0] or die;
while (my $p = <$fh>) {
    chomp $p;
    print join("", map { my $n = $_; my $ok = eval { $n =~ /^$p$/ ? 1 : 0 }; defined $ok ? $ok : "E" } @names), "\n";
}
"""


def test_same_answers_as_perl(tmp_path: Path) -> None:
    """gitolite is Perl: random nested patterns (fixed seed) against names, via one perl."""
    import random
    import shutil

    perl = shutil.which("perl")
    assert perl, "perl is missing (gitolite3, which the differential test needs, brings it)"
    rnd = random.Random(5)
    atoms = [*"abcxyz019-_/@", "\\.", "\\+", "foo", "bar/", "[a-z]", "[0-9]", "[^/]", "."]
    atoms += ["[a-c0-9-]", "[.]", "[^a]", "\\d", "\\w", "[]a]"]
    quants = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "{,2}", "*?", "+?"]

    def seq() -> str:
        out = "".join(rnd.choice(atoms) + rnd.choice(quants) for _ in range(rnd.randint(1, 4)))
        return out + ("\\b" if rnd.random() < 0.1 else "")

    def pattern(depth: int = 0) -> str:
        parts = []
        for _ in range(rnd.randint(1, 3)):
            if depth < 2 and rnd.random() < 0.4:
                alts = "|".join(pattern(depth + 1) for _ in range(rnd.randint(1, 3)))
                parts.append(f"({rnd.choice(['', '?:'])}{alts}){rnd.choice(quants)}")
            else:
                parts.append(seq())
        return "".join(parts)

    pats = [pattern() if rnd.random() < 0.8 else pattern() + "|" + pattern() for _ in range(600)]
    chars = "abcxyz019-._/@+"
    subjects = ["".join(rnd.choice(chars) for _ in range(rnd.randint(0, 12))) for _ in range(30)]
    (tmp_path / "pats").write_text("".join(p + "\n" for p in pats))
    r = subprocess.run(
        [perl, "-e", PERL_MATCHER, str(tmp_path / "pats"), "".join(s + "\n" for s in subjects)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = r.stdout.splitlines()
    assert len(lines) == len(pats), r.stderr
    compared = 0
    for p, line in zip(pats, lines, strict=True):
        assert "E" not in line, p
        compiled = check._anchored(p)
        for s, want in zip(subjects, line, strict=True):
            assert (compiled.search(s) is not None) == (want == "1"), (p, s)
            compared += 1
    assert compared == 600 * 30
