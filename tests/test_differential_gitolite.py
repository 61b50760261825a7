"""Differential test: our compile + access against the real gitolite, on generated confs.

Both implementations compile the same seeded conf (groups, deny rules and the
deny-rules option, refexes, wild patterns with CREATOR, roles via gl-perms, include,
300+ repos); the same wild repos with the same gl-creator/gl-perms are created on both
sides; then thousands of generated queries (existing and missing repos and users,
perms R W + C D M ^C, refs any/branches/tags) must get identical answers, text and exit
code. gitolite runs in batch mode (``gitolite access % % PERM REF``); we run our CLI's
``access --batch``. A missing ``gitolite`` fails the test (CI installs gitolite3).
"""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from gitolite_triggers import repos
from gitolite_triggers.rc import load_rc
from tests.support.confgen import generate
from tests.support.gitolite_ref import GitoliteRef, require_gitolite
from tests.support.server import Server


def _precreated(gen) -> list[str]:
    """Plain repos both sides get as bare folders before compiling (``git init`` x 600 is
    most of this test's time); every 8th is left for the compiles to create."""
    return [name for i, name in enumerate(gen.plain) if i % 8]


def _ours_setup(server: Server, gen) -> None:
    for name in _precreated(gen):
        (server.repo_base / f"{name}.git" / "hooks").mkdir(parents=True, exist_ok=True)
    conf = server.admin_base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gitolite.conf").write_text(gen.conf)
    for rel, body in gen.includes.items():
        (conf / rel).parent.mkdir(parents=True, exist_ok=True)
        (conf / rel).write_text(body)
    p = server.cli("compile")
    assert p.returncode == 0, p.stderr
    rc = load_rc()
    for name in ("gitolite-admin", "testing"):  # gitolite's setup made these; mirror them
        repos.init_bare(rc, name)
    for repo, creator, perms in gen.wild:
        path = repos.repo_path(rc, repo)
        (path / "hooks").mkdir(parents=True)
        repos.install_hooks(rc, path)
        (path / "gl-creator").write_text(creator + "\n")
        if perms is not None:
            (path / "gl-perms").write_text(perms)


def _ref_setup(home: Path, gen) -> GitoliteRef:
    ref = GitoliteRef(home)
    ref.setup()
    for name in _precreated(gen):
        ref.precreate(name)
    ref.write_conf(gen.conf, gen.includes)
    ref.compile()
    for repo, creator, perms in gen.wild:
        ref.create_wild(repo, creator, perms, init=False)
    ref.rehook()
    return ref


def _ours_batch(server: Server, queries, gl_user: str | None) -> list[tuple[str, str]]:
    stdin = "".join(" ".join(q) + "\n" for q in queries)
    extra = {"GL_USER": gl_user} if gl_user else {}
    p = server.cli("access", "--batch", input=stdin, extra_env=extra)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == len(queries)
    return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]


CREATE_PAIRS = [("R", "any"), ("^C", "any"), ("C", "any"), ("W", "master")]


def _creator_as_regex_differs(gen, gl_user: str | None) -> set[str]:
    """Repos whose answers differ from gitolite's on purpose (docs/conf.md, deliberate
    differences): gitolite puts the creator's name into its generic-name regex as it is
    (``s/\\b$creator\\b/CREATOR/``), so creator ``x+y`` never matches its own name and
    ``a.b`` would match ``axb``; we substitute the name literally. Only the repos where the
    two substitutions give different names are left out of the comparison."""
    from gitolite_triggers.conf.check import replace_creator

    creators = {repo: creator for repo, creator, _ in gen.wild}
    names = {q[0] for q in gen.queries} | set(creators)
    out = set()
    for repo in names:
        creator = creators.get(repo, gl_user if repo not in gen.plain else None)
        if not creator:
            continue
        theirs = re.sub(r"\b" + creator + r"\b", "CREATOR", repo, count=1, flags=re.ASCII)
        if theirs != (replace_creator(repo, creator) or repo):
            out.add(repo)
    return out


def _want_per_line(ref: GitoliteRef, queries: list[tuple[str, str, str, str]]) -> list[str]:
    """gitolite's answers, each with GL_USER set to the query's user where it matters: a
    repo that does not exist (its creator is GL_USER); one batch per user for those."""
    want = ref.access_batch(queries)
    missing: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        if not (ref.repo_base / f"{q[0]}.git").is_dir():
            missing[q[1]].append(i)
    for user, idxs in missing.items():
        for i, answer in zip(
            idxs, ref.access_batch([queries[i] for i in idxs], gl_user=user), strict=True
        ):
            want[i] = answer
    return want


@pytest.mark.parametrize(
    ("seed", "n_repos", "n_queries", "n_pairs"), [(11, 320, 2200, 16), (2026, 80, 600, 10)]
)
def test_differential_against_gitolite(
    server: Server, tmp_path: Path, seed: int, n_repos: int, n_queries: int, n_pairs: int
) -> None:
    require_gitolite()
    gen = generate(seed, n_repos=n_repos, n_queries=n_queries, n_pairs=n_pairs)
    ref = _ref_setup(tmp_path / "gitolite-home", gen)
    _ours_setup(server, gen)

    # the same physical repos on both sides
    rc = load_rc()
    from gitolite_triggers.repos import physical_repos

    theirs = sorted(str(p.relative_to(ref.repo_base))[:-4] for p in ref.repo_base.rglob("*.git"))
    assert physical_repos(rc) == theirs

    # all generated queries without GL_USER; then, with GL_USER set (the creator of a
    # repo not created yet, for CREATOR patterns), creation-style queries
    with_user = [
        (q[0], q[1], *CREATE_PAIRS[i % 4]) for i, q in enumerate(gen.queries[: n_queries // 4])
    ]
    half = len(with_user) // 2
    contexts = [(None, gen.queries), ("u3", with_user[:half]), ("a.b", with_user[half:])]
    mismatches = []
    kinds: Counter[str] = Counter()
    total = skipped = 0
    differs: dict[str, set[str]] = {}
    for gl_user, queries in contexts:
        # ours answers each --batch line as its own user asked (the would-be creator of a
        # missing repo is the line's user), so gitolite is asked with GL_USER = that user
        for user in {q[1] for q in queries} - set(differs):
            differs[user] = _creator_as_regex_differs(gen, user)
        kept = [q for q in queries if q[0] not in differs[q[1]]]
        skipped += len(queries) - len(kept)
        queries = kept
        want = _want_per_line(ref, queries)
        got = _ours_batch(server, queries, gl_user)
        for q, w, (code, text) in zip(queries, want, got, strict=True):
            total += 1
            kinds[w.split(" DENIED by ")[1] if "DENIED" in w else "allowed"] += 1
            want_code = "1" if "DENIED" in w else "0"
            if (code, text) != (want_code, w):
                mismatches.append(
                    f"GL_USER={gl_user} {' '.join(q)}: gitolite={want_code} {w!r} ours={code} {text!r}"
                )
    assert total + skipped >= n_queries and skipped < total * 0.05, (total, skipped)
    # the answers are varied: allowed, denied by fallthru, by a deny rule, by existence
    assert kinds["allowed"] > total * 0.15 and kinds["fallthru"] > total * 0.2, kinds
    assert (
        kinds["existence"] > 10 and sum(v for k, v in kinds.items() if k.startswith("refs/")) > 10
    ), kinds
    assert not mismatches, f"{len(mismatches)} of {total} differ:\n" + "\n".join(mismatches[:40])

    # per-repo options (what options_for gives triggers), as gitolite's git-config sees them
    from gitolite_triggers.conf.query import options_for

    names = sorted({q[0] for q in gen.queries if not q[0].startswith("@")})
    for gl_user in (None, "u3"):
        names = [n for n in names if n not in _creator_as_regex_differs(gen, gl_user)]
        want_opts = ref.options(names, gl_user=gl_user)
        with pytest.MonkeyPatch.context() as mp:
            if gl_user:
                mp.setenv("GL_USER", gl_user)
            else:
                mp.delenv("GL_USER", raising=False)
            got_opts = {r: options_for(rc, r) for r in names}
        assert got_opts == want_opts
    assert sum(1 for o in want_opts.values() if o) > 20

    # the single (non-batch) form: same stdout and exit code as `gitolite access`
    for q in [q for q in gen.queries if q[0] not in _creator_as_regex_differs(gen, None)][:6]:
        w_code, w_out = ref.access_one(*q)
        p = server.cli("access", *q)
        assert (p.returncode, p.stdout.rstrip("\n")) == (w_code, w_out), q


EDGE_CONF = """
@g1 = alice
@rg = r1 r2
repo @all
    R = @g1
repo r1 r2 x.y plain
    RW+ = bob
    - master = carol
    RW = carol
repo r1
    option deny-rules = 1
    option deny-rules = 0
repo r2
    option deny-rules = 1
repo @rg
    RWC feature/ = dave
    RW+D = erin
repo w/CREATOR/..*
    C = @all
    RW+ = CREATOR
    RW = WRITERS
    R = READERS
repo a|b/c
    RW = frank
"""
EDGE_WILD = [
    ("w/alice/one", "alice", "@READERS bob\nWRITERS = @g1\n# c\n"),
    ("w/bob/two", "bob", "READERS @all\n"),
]
EDGE_QUERIES = [
    ("r1", "carol", "R", "any"),
    ("r2", "carol", "R", "any"),
    ("r1", "carol", "W", "master"),
    ("r2", "alice", "R", "any"),
    ("r1", "dave", "C", "feature/x"),
    ("r1", "dave", "C", "other"),
    ("r1", "erin", "D", "x"),
    ("plain", "erin", "D", "x"),
    ("plain", "bob", "D", "x"),
    ("x.y", "bob", "R", "any"),
    ("xzy", "bob", "R", "any"),
    ("@rg", "dave", "W", "any"),
    ("@g1", "bob", "R", "any"),
    ("r1", "@g1", "R", "any"),
    ("w/alice/one", "bob", "R", "any"),
    ("w/alice/one", "bob", "W", "any"),
    ("w/alice/one", "alice", "+", "x"),
    ("w/bob/two", "zed", "R", "any"),
    ("w/bob/two", "alice", "W", "any"),
    ("w/alice/new", "alice", "^C", "any"),
    ("w/bob/one", "alice", "^C", "any"),
    ("abc", "frank", "W", "any"),
    ("b/c", "frank", "W", "any"),
    ("axx", "frank", "R", "any"),
    ("gone", "bob", "R", "any"),
    ("hooked", "bob", "W", "any"),
    ("r1", "bob", "W", "VREF/NAME/x"),
    ("r1", "bob", "^C", "any"),
    ("r1", "bob", "M", "master"),
    ("r1", "bob", "W", "refs/tags/v1"),
]


def test_differential_edge_cases(server: Server, tmp_path: Path) -> None:
    """Hand-picked corners: deny-rules switched off again, a deleted plain repo, a repo whose
    update hook was replaced, role lines with '@' and '=', a top-level alternation pattern,
    a user named like a group, VREF fallthru; single form and batch, both GL_USER states."""
    require_gitolite()
    conf = EDGE_CONF + "repo gone hooked\n    RW+ = bob\n"
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    ref.write_conf(conf)
    ref.compile()
    for repo, creator, perms in EDGE_WILD:
        ref.create_wild(repo, creator, perms, init=False)
    ref.rehook()
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(conf)
    assert server.cli("compile").returncode == 0
    rc = load_rc()
    for repo, creator, perms in EDGE_WILD:
        path = repos.repo_path(rc, repo)
        (path / "hooks").mkdir(parents=True)
        repos.install_hooks(rc, path)
        (path / "gl-creator").write_text(creator + "\n")
        (path / "gl-perms").write_text(perms)
    for base in (ref.repo_base, server.repo_base):
        shutil.rmtree(base / "gone.git")
        hook = base / "hooked.git" / "hooks" / "update"
        hook.unlink()
        hook.write_text("#!/bin/sh\n")
    batch = [
        q for q in EDGE_QUERIES if not q[3].startswith("VREF/")
    ]  # gitolite's batch skips the VREF tweak
    want = _want_per_line(ref, batch)  # each line as its user asked (access --batch)
    for gl_user in (None, "alice"):  # an inherited GL_USER changes nothing
        got = _ours_batch(server, batch, gl_user)
        assert got == [("1" if "DENIED" in w else "0", w) for w in want], gl_user
    # the single form, exit codes included (a sample: each call is a process on both sides)
    single = [(q, None) for q in EDGE_QUERIES[::4]] + [
        (EDGE_QUERIES[-4], None),
        (EDGE_QUERIES[19], "alice"),
    ]
    for q, gl_user in single:
        w_code, w_out = ref.access_one(*q, gl_user=gl_user)
        p = server.cli("access", *q, extra_env={"GL_USER": gl_user} if gl_user else {})
        assert (p.returncode, p.stdout.rstrip("\n")) == (w_code, w_out), (q, gl_user)


# ---------------------------------------------------------------- pushes (VREFs)

PUSH_CONF = """
repo gitolite-admin
    RW+ = admin
@devs = u2 u3 u4
@seniors = u1
repo foo
    RW+ = @seniors @devs
    - VREF/COUNT/3 = u2
    - VREF/COUNT/2/NEWFILES = u3
    RW+ VREF/COUNT/5 = u4
    - VREF/COUNT/5 = @all
    RW+ NAME/docs/public/ = u3
    - NAME/docs/ = u3 u4
    - NAME/secret = @devs
    - VREF/MAX_NEWBIN_SIZE/2000 = @devs
repo bar
    RW = u1 u2
    RW+ = u3
    RW+ NAME/src/ = u2
    - NAME/ = u2
    - VREF/MAX_NEWBIN_SIZE/500 = u3
    - VREF/COUNT/4/NEWFILES = u1
    - VREF/FILETYPE/AUTOGENERATED = u1 u2 u3
"""
PUSH_DIRS = ("docs/public/", "docs/private/", "src/", "", "secret/", "secretive.txt.d/")


def _push_plan(seed: int, n: int) -> list[tuple[str, str, dict[str, bytes | None], bool]]:
    """Seeded pushes: (repo, user, files to write or delete, force). Contents are random
    (never similar), so no add+delete pair can look like a rename to git."""
    import random

    rnd = random.Random(seed)
    users = ("u1", "u2", "u3", "u4")
    known: dict[str, list[str]] = {"foo": [], "bar": []}
    plan = []
    for i in range(n):
        repo = rnd.choice(("foo", "bar"))
        files: dict[str, bytes | None] = {}
        if known[repo] and rnd.random() < 0.15:  # deletions alone
            for path in rnd.sample(known[repo], min(len(known[repo]), rnd.randint(1, 2))):
                files[path] = None
        else:
            for _ in range(rnd.choice((1, 1, 2, 3, 4, 5, 6, 7))):
                if known[repo] and rnd.random() < 0.4:
                    path = rnd.choice(known[repo])  # a change to a file that exists
                else:
                    path = f"{rnd.choice(PUSH_DIRS)}f{i}-{rnd.randint(0, 99)}"
                    if rnd.random() < 0.3:
                        path += ".bin"
                if rnd.random() < 0.05:
                    files[f"gen/G{i}.java"] = (
                        b"// Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
                    )
                    continue
                if path.endswith(".bin"):
                    size = rnd.choice((10, 499, 500, 501, 1999, 2000, 2001, 4000))
                    files[path] = b"\0" + rnd.randbytes(size - 1)
                else:
                    files[path] = f"{path} {rnd.random()}\n".encode()
        plan.append((repo, rnd.choice(users), files, False))
        for path, data in files.items():
            if data is None and path in known[repo]:
                known[repo].remove(path)
            elif data is not None and path not in known[repo]:
                known[repo].append(path)
    return plan


def test_differential_pushes(server: Server, tmp_path: Path) -> None:
    """The same conf and the same pushes (paths, file counts, binary sizes) on gitolite3
    and on ours: VREF/NAME, VREF/COUNT (changed and new files), VREF/MAX_NEWBIN_SIZE, allow
    and deny rules in order; every push must be accepted or rejected alike, and a
    rejection must name the same denial line."""
    from tests.support.pushside import ours, theirs

    require_gitolite()
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    ref.write_conf(PUSH_CONF)
    ref.compile()
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(PUSH_CONF)
    assert server.cli("compile").returncode == 0
    sides = [theirs(ref, tmp_path / "w-theirs"), ours(server, tmp_path / "w-ours")]
    for side in sides:  # a first commit on each repo, by the seniors
        for repo in ("foo", "bar"):
            side.commit(repo, {"README": b"hi\n"})
            assert side.push(repo, "u1").returncode == 0, side.name
    outcomes: Counter[str] = Counter()
    mismatches = []
    plan = _push_plan(7, PUSHES)
    for i, (repo, user, files, _force) in enumerate(plan):
        got = []
        for side in sides:
            side.commit(repo, files, message=f"push {i}")
            p = side.push(repo, user)
            fatal = [ln for ln in p.stderr.splitlines() if "FATAL:" in ln]
            got.append((p.returncode == 0, fatal[:1]))
            if p.returncode != 0:
                side.reset(repo, "origin/master")  # drop the refused commit, both sides alike
        want, have = got
        theirs_fatal = [ln.replace("remote: ", "").strip() for ln in want[1]]
        ours_fatal = [ln.replace("remote: ", "").strip() for ln in have[1]]
        outcomes[
            "accepted" if want[0] else (theirs_fatal or ["?"])[0].split(" DENIED by ")[-1]
        ] += 1
        if want[0] != have[0] or theirs_fatal != ours_fatal:
            mismatches.append(
                f"push {i} {repo} {user} {sorted(files)}: gitolite={want} ours={have}"
            )
    # branch creations (NAME sees the whole tree: the old side is the empty tree; COUNT
    # only commits no ref has), deletions, and rewinds of master, by every user
    import random

    rnd = random.Random(8)
    branches: dict[str, list[str]] = {"foo": [], "bar": []}
    for i in range(BRANCH_OPS):
        repo, user = rnd.choice(("foo", "bar")), rnd.choice(("u1", "u2", "u3", "u4"))
        kind = rnd.choice(("create", "create", "commit", "delete", "rewind"))
        if kind == "delete" and not branches[repo]:
            kind = "create"
        if kind == "delete" and rnd.random() < 0.5:
            user = "u1"  # the one user with RW+ and no NAME rules on foo
        name = {"create": f"t{i}", "commit": f"t{i}", "rewind": "master"}.get(kind) or rnd.choice(
            branches[repo]
        )
        got = []
        for side in sides:
            side.reset(repo, "origin/master")
            if kind == "commit":
                side.commit(repo, {f"{rnd.choice(PUSH_DIRS)}b{i}-{n}": b"%d" % n for n in range(3)})
            spec = {
                "create": f"HEAD:refs/heads/{name}",
                "commit": f"HEAD:refs/heads/{name}",
                "delete": f":refs/heads/{name}",
                "rewind": "HEAD~1:refs/heads/master",
            }[kind]
            p = side.push(repo, user, spec, force=kind == "rewind")
            fatal = [
                ln.replace("remote: ", "").strip() for ln in p.stderr.splitlines() if "FATAL:" in ln
            ]
            got.append((p.returncode == 0, fatal[:1]))
            if kind == "rewind" and p.returncode == 0:
                side.run_git(repo, "fetch", "-q", "origin")
        if got[0][0] and kind in ("create", "commit"):
            branches[repo].append(name)
        if got[0][0] and kind == "delete":
            branches[repo].remove(name)
        outcomes[f"{kind}:{'ok' if got[0][0] else 'denied'}"] += 1
        if got[0] != got[1]:
            mismatches.append(f"{kind} {repo} {user} {name}: gitolite={got[0]} ours={got[1]}")
    assert not mismatches, "\n".join(mismatches[:20])
    for kind in ("create", "commit", "delete", "rewind"):
        assert outcomes[f"{kind}:ok"] and outcomes[f"{kind}:denied"], f"{kind}: {dict(outcomes)}"
    # the plan exercised each kind of answer
    assert outcomes["accepted"] > PUSHES * 0.2, outcomes
    for kind in (
        "VREF/COUNT/3",
        "VREF/NAME/docs/",
        "VREF/MAX_NEWBIN_SIZE/500",
        "VREF/NAME/",
        "VREF/FILETYPE/AUTOGENERATED",
    ):
        assert outcomes[kind] > 0, (kind, outcomes)


PUSHES = 90
BRANCH_OPS = 60


HELPER_VREF = """#!/bin/sh
# a site's VREF helper: report its argv, then deny by the file count it is given
n=$(git diff --name-only "$4" "$5" | wc -l)
echo "helper: ref=$1 aa=$6 vref=$7 args=$8,$9 files=$n"
case "$8" in  # a number only: sh's own error text on stderr would race the pusher's lines
  ''|*[!0-9]*) ;;
  *) [ "$n" -gt "$8" ] && echo "VREF/SITE/$8/toomany $n files, at most $8" ;;
esac
[ "$9" = "always" ] && echo "VREF/SITE/always"
exit 0
"""
HELPER_CONF = """
repo gitolite-admin
    RW+ = admin
repo foo
    RW+ = u1 u2 u3
    RW+ VREF/SITE/2/toomany = u3
    - VREF/SITE/2 = @all
    - VREF/SITE/always = u2
    RW+ VREF/SITE/9 = u1
"""


def test_differential_vref_helper_program(server: Server, tmp_path: Path) -> None:
    """A LOCAL_CODE/VREF helper on both sides: the same argv (shown by its output), the
    same VREF lines checked, the same accept/reject and FATAL line."""
    from tests.support.pushside import ours, theirs

    require_gitolite()
    ref = GitoliteRef(tmp_path / "gitolite-home")
    ref.setup()
    rc = (ref.home / ".gitolite.rc").read_text()
    rc = rc.replace(
        '# LOCAL_CODE                =>  "$ENV{HOME}/local",',
        'LOCAL_CODE => "$ENV{HOME}/local",',
        1,
    )
    (ref.home / ".gitolite.rc").write_text(rc)
    for home in (ref.home, server.home):
        (home / "local" / "VREF").mkdir(parents=True)
        (home / "local" / "VREF" / "SITE").write_text(HELPER_VREF)
        (home / "local" / "VREF" / "SITE").chmod(0o755)
    server.write_rc(f"LOCAL_CODE: {server.home / 'local'}\n")
    ref.write_conf(HELPER_CONF + "    - VREF/SITE/1/always = u2\n")
    ref.compile()
    (server.admin_base / "conf").mkdir(parents=True)
    (server.admin_base / "conf" / "gitolite.conf").write_text(
        HELPER_CONF + "    - VREF/SITE/1/always = u2\n"
    )
    assert server.cli("compile").returncode == 0
    sides = [theirs(ref, tmp_path / "w-theirs"), ours(server, tmp_path / "w-ours")]
    plan = [("u1", 1), ("u1", 3), ("u2", 1), ("u3", 3), ("u3", 1), ("u1", 12), ("u2", 2)]
    results = []
    for i, (user, nfiles) in enumerate(plan):
        got = []
        for side in sides:
            side.commit("foo", {f"p{i}/f{k}": b"%d" % k for k in range(nfiles)})
            p = side.push("foo", user)
            lines = [
                ln.replace("remote: ", "").strip()
                for ln in p.stderr.splitlines()
                if "helper:" in ln or "FATAL" in ln or "files, at most" in ln
            ]
            got.append((p.returncode == 0, lines))
            if p.returncode:
                side.reset("foo", "origin/master")
        assert got[0] == got[1], (i, user, nfiles, got)
        assert any(
            ln.startswith("helper: ref=refs/heads/master aa=W vref=VREF/SITE/") for ln in got[1][1]
        )
        results.append(got[0][0])
    assert True in results and False in results
