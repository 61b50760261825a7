#!/usr/bin/env python3
"""Rules benchmark: compile time and per-check latency at two sizes, against gitolite too.

    .venv/bin/python bench/bench_rules.py [--sizes 1000:500,10000:2000] [--checks 2000]
                                          [--cli-calls 20] [--no-gitolite] [--out bench/results/rules.md]

For each (repos, users) size it generates a conf with tests/support/confgen.py (seeded;
groups, repo groups, patterns, deny rules, options), makes the repo folders (a bare
folder with hooks/: ``git init`` x 10,000 would measure git, not us), then measures in a
throwaway HOME:

- compile: ``compile_conf`` in-process, first run (links hooks into every repo) and a
  steady-state recompile (median of 3), and the ``gitolite-triggers compile`` CLI wall time;
- checks in-process: ``query.access`` over generated queries (existing and missing repos,
  all perms and refs), microseconds per check;
- one check through the CLI: ``gitolite-triggers access -q`` wall time (median);
- ``options_for`` in-process (what every trigger fire pays);
- the same conf compiled by the real gitolite (``gitolite compile``) and one
  ``gitolite access`` call, when gitolite is installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.confgen import Generated, generate  # noqa: E402
from tests.support.server import Server, clean_env, make_server  # noqa: E402


def _median_wall(argv: list[str], env: dict[str, str], n: int, cwd: Path) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def generated(n_repos: int, n_users: int, n_queries: int = 2000) -> Generated:
    """The seeded conf of a size: the same one for every bench that measures rules at it
    (this one, rss_compile_100k.py, gitolite_compile_100k.py); the queries come after the
    conf in the generator's stream, so their number does not change the conf."""
    return generate(
        20260 + n_repos,
        n_repos=n_repos,
        n_users=n_users,
        n_queries=n_queries,
        n_wild=min(200, n_repos // 20),
        n_pairs=24,
    )


def lay_out(server: Server, gen: Generated) -> None:
    """The conf (and its includes) in the account, its repos as bare folders with hooks/
    (``git init`` x 100,000 would measure git, not the rules)."""
    conf = server.admin_base / "conf"
    (conf / "extra").mkdir(parents=True)
    (conf / "gitolite.conf").write_text(gen.conf)
    for rel, body in gen.includes.items():
        (conf / rel).write_text(body)
    for name in gen.plain:
        (server.repo_base / f"{name}.git" / "hooks").mkdir(parents=True, exist_ok=True)


def bench_size(
    n_repos: int, n_users: int, checks: int, cli_calls: int, with_gitolite: bool
) -> dict[str, object]:
    gen = generated(n_repos, n_users, checks)
    tmp = Path(tempfile.mkdtemp(prefix="bench-rules-"))
    res: dict[str, object] = {
        "repos": n_repos,
        "users": n_users,
        "conf_lines": sum(1 + t.count("\n") for t in [gen.conf, *gen.includes.values()]),
    }
    try:
        server = make_server(tmp / "home")
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(server.env)
        try:
            from gitolite_triggers import repos
            from gitolite_triggers.conf import query
            from gitolite_triggers.conf.compile import compile_conf
            from gitolite_triggers.rc import load_rc

            rc = load_rc()
            lay_out(server, gen)
            t = time.perf_counter()
            first = compile_conf(rc)
            res["compile_first_s"] = time.perf_counter() - t
            res["rules"] = first.rules
            res["store_bytes"] = first.store_bytes
            again = []
            for _ in range(3):
                t = time.perf_counter()
                compile_conf(rc)
                again.append(time.perf_counter() - t)
            res["compile_s"] = statistics.median(again)
            res["compile_cli_s"] = _median_wall(
                [sys.executable, "-m", "gitolite_triggers", "compile"], server.env, 3, server.home
            )
            for repo, creator, perms in gen.wild:
                path = repos.repo_path(rc, repo)
                (path / "hooks").mkdir(parents=True, exist_ok=True)
                repos.install_hooks(rc, path)
                (path / "gl-creator").write_text(creator + "\n")
                if perms:
                    (path / "gl-perms").write_text(perms)
            from gitolite_triggers.commands.access_cmd import check_one

            ch = query._checker(rc)
            t = time.perf_counter()
            allowed = 0
            for q in gen.queries:
                allowed += "DENIED" not in check_one(query._checker(rc), *q)
            res["check_us"] = (time.perf_counter() - t) / len(gen.queries) * 1e6
            res["allowed_share"] = allowed / len(gen.queries)
            t = time.perf_counter()
            for q in gen.queries[:1000]:
                query.options_for(rc, q[0])
            res["options_us"] = (time.perf_counter() - t) / min(1000, len(gen.queries)) * 1e6
            t = time.perf_counter()
            query.readable(rc, gen.users[0], gen.plain)
            res["readable_all_s"] = time.perf_counter() - t
            del ch
            q = gen.queries[0]
            res["access_cli_s"] = _median_wall(
                [sys.executable, "-m", "gitolite_triggers", "access", "-q", *q[:2], "W", "master"],
                server.env,
                cli_calls,
                server.home,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if with_gitolite and shutil.which("gitolite"):
            from tests.support.gitolite_ref import GitoliteRef

            ref = GitoliteRef(tmp / "gitolite")
            ref.setup()
            for name in gen.plain:
                ref.precreate(name)
            ref.write_conf(gen.conf, gen.includes)
            t = time.perf_counter()
            ref.compile()
            res["gitolite_compile_first_s"] = time.perf_counter() - t
            t = time.perf_counter()
            ref.compile()
            res["gitolite_compile_s"] = time.perf_counter() - t
            env = {**ref.env}
            q = gen.queries[0]
            res["gitolite_access_cli_s"] = _median_wall(
                [ref.exe, "access", "-q", *q[:2], "W", "master"], env, cli_calls, ref.home
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _fmt(v: object, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "ms":
        return f"{float(v) * 1000:.1f} ms"
    if unit == "us":
        return f"{float(v):.0f} µs"
    return str(v)


def report(results: list[dict[str, object]], argv: list[str]) -> str:
    rows = [
        ("conf lines (incl. includes)", "conf_lines", ""),
        ("rule/config sequence numbers", "rules", ""),
        ("compiled store size", "store_bytes", ""),
        ("compile, first (links hooks into every repo)", "compile_first_s", "ms"),
        ("compile, steady state (in-process, median of 3)", "compile_s", "ms"),
        ("`gitolite-triggers compile` CLI wall (median of 3)", "compile_cli_s", "ms"),
        ("gitolite compile, first (writes gl-conf per repo)", "gitolite_compile_first_s", "ms"),
        ("gitolite compile, again", "gitolite_compile_s", "ms"),
        ("check in-process (`access` + C/D/M downgrade), per check", "check_us", "us"),
        ("`options_for` in-process, per call", "options_us", "us"),
        ("`readable(user, all conf repos)`", "readable_all_s", "ms"),
        ("one `gitolite-triggers access -q` CLI call (median)", "access_cli_s", "ms"),
        ("one `gitolite access -q` CLI call (median)", "gitolite_access_cli_s", "ms"),
    ]
    head = (
        "| measure | "
        + " | ".join(f"{r['repos']} repos / {r['users']} users" for r in results)
        + " |"
    )
    lines = [
        "# Rules benchmark (bench/bench_rules.py)",
        "",
        f"Command: `.venv/bin/python bench/bench_rules.py {' '.join(argv)}`".rstrip() + "  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.2f} (shared with other work).",
        "",
        head,
        "|---|" + "---|" * len(results),
    ]
    for label, key, unit in rows:
        lines.append(f"| {label} | " + " | ".join(_fmt(r.get(key), unit) for r in results) + " |")
    lines += [
        "",
        "Repos are bare folders with hooks/ (no `git init`), on both sides. Checks use generated",
        "queries over existing and missing repos, all perms (R W + C D M ^C) and refs;",
        "allowed share: "
        + ", ".join(f"{float(r.get('allowed_share', 0)):.0%}" for r in results)
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000:500,10000:2000")
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--cli-calls", type=int, default=20)
    ap.add_argument("--no-gitolite", action="store_true")
    ap.add_argument("--out", default="")
    ns = ap.parse_args(args)
    results = []
    for spec in ns.sizes.split(","):
        r, u = (int(x) for x in spec.split(":"))
        print(f"size {r} repos / {u} users ...", file=sys.stderr, flush=True)
        results.append(bench_size(r, u, ns.checks, ns.cli_calls, not ns.no_gitolite))
    text = report(results, args)
    print(text)
    if ns.out:
        Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.out).write_text(text)
    return 0


if __name__ == "__main__":
    _ = clean_env  # the sandbox env comes from make_server
    sys.exit(main())
