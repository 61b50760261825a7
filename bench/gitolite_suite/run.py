#!/usr/bin/env python3
"""Run gitolite's own test suite (``t/*.t``, unchanged) against gitolite or against us.

Usage (as root; the suite wipes the HOME it runs in, so it runs as a throwaway system
account whose HOME is a fresh folder under --workdir):

    bench/gitolite_suite/run.py --impl ours                # every t/*.t, through our stand-ins
    bench/gitolite_suite/run.py --impl gitolite            # the same files, gitolite's own src/
    bench/gitolite_suite/run.py --impl ours t/basic.t      # some files only
    bench/gitolite_suite/run.py --impl ours --json out.json

How: the snapshot of github.com/sitaramc/gitolite (/work/.mirror/sitaramc+gitolite/repo, or
--snapshot) is exported with ``git archive`` into the account's HOME. For ``--impl ours`` its
``src/gitolite`` and ``src/gitolite-shell`` are replaced by the thin stand-ins in ``standin.py``
(which call ``gitolite-triggers``); the t/ files, t/glt and gitolite's test library
(src/lib/Gitolite/Test*.pm) are used as they are. Each file runs as ``perl t/NAME.t`` with
``GITOLITE_TEST=y``; its TAP output gives the counts: an assertion passes when its ``ok N``
line is printed; a planned assertion that never ran (the file died) counts as failed.

Prints one line per file and the totals; ``--json`` writes every failing assertion's
number and TAP comment lines, for grouping by feature.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from vs_gitolite.accounts import Account, chown_tree, ensure_account  # noqa: E402
from vs_gitolite.pyenv import ours_bindir  # noqa: E402

SNAPSHOT = "/work/.mirror/sitaramc+gitolite/repo"
ACCOUNTS = {"ours": "glsuite-ours", "gitolite": "glsuite-gl"}
PLAN = re.compile(rb"^1\.\.(\d+)", re.M)
PLAN_IN_SOURCE = re.compile(rb"\bplan (\d+)")
RESULT = re.compile(rb"^(not ok|ok)\b", re.M)  # Tsh: "ok (N)"; easy.t, templates.t: bare "ok"


def export_snapshot(snapshot: str, dest: Path) -> None:
    """The snapshot if there is one, else Debian's gitolite3 source package (source.py)."""
    from source import export

    export(snapshot if os.path.exists(snapshot) else "", dest)


def install_standins(src: Path, bindir: Path) -> None:
    """Put our stand-ins where the suite expects gitolite's two programs."""
    text = (HERE / "standin.py").read_text()
    default_rc = subprocess.run(
        [
            "perl",
            "-I",
            str(src / "src" / "lib"),
            "-MGitolite::Rc",
            "-e",
            'print glrc("default-text")',
        ],
        check=True,
        capture_output=True,
        env={"HOME": str(src), "PATH": "/usr/bin:/bin"},
    ).stdout
    (src / "src" / "default.rc").write_bytes(default_rc)
    # t/ files that call gitolite's Perl access() in-process (templates.t) get ours
    load = (
        (HERE / "Load.pm")
        .read_text()
        .replace("@GITOLITE_TRIGGERS@", str(bindir / "gitolite-triggers"))
    )
    (src / "src" / "lib" / "Gitolite" / "Conf" / "Load.pm").write_text(load)
    for name in ("gitolite", "gitolite-shell"):
        target = src / "src" / name
        target.write_text(
            f"#!{sys.executable if False else '/usr/bin/python3'}\n"
            f"BINDIR = {str(bindir)!r}\nROLE = {name!r}\n" + text
        )
        target.chmod(0o755)


def commit_tree(src: Path) -> None:
    """Make the tree a clean git checkout: t/z-end.t asserts ``git status`` shows nothing."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(src),
        "GIT_AUTHOR_NAME": "suite",
        "GIT_AUTHOR_EMAIL": "suite@localhost",
        "GIT_COMMITTER_NAME": "suite",
        "GIT_COMMITTER_EMAIL": "suite@localhost",
    }
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", "-C", str(src), *argv], check=True, env=env, capture_output=True)


class Myself:
    """``--as-me``: run as the calling user with HOME set to a fresh folder (CI's short run)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def run(
        self, argv: list[str], *, extra_env: dict[str, str], cwd: Path, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[bytes]:
        env = {"HOME": str(self.home), "USER": "suite", "LOGNAME": "suite", "LANG": "C.UTF-8"}
        return subprocess.run(
            argv,
            env={**env, **extra_env},
            cwd=cwd,
            capture_output=True,
            check=check,
            timeout=timeout,
        )


def run_file(account: Account | Myself, src: Path, test: str, timeout: float) -> dict[str, object]:
    started = time.monotonic()
    env = {
        "GITOLITE_TEST": "y",
        "HARNESS_ACTIVE": "1",
        "TSH_VERBOSE": "1",  # each failure's command, expectation and output, on stderr  # Tsh prints its "ok (N)" lines only then, as under prove
        "PWD": str(src),  # Test.pm links $ENV{PWD}/t/glt, as a shell would have set it
        "PATH": f"{account.home}/bin:/usr/local/bin:/usr/bin:/bin",
    }
    try:
        r = account.run(["perl", test], extra_env=env, cwd=src, check=False, timeout=timeout)
        out, err, status = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out, err, status = e.stdout or b"", e.stderr or b"", -1
    plan_m = PLAN.search(out)
    results = [kind == b"ok" for kind in RESULT.findall(out)]
    if plan_m:
        planned = int(plan_m.group(1))
    else:  # died before its plan: count what the file plans (one `plan N` in every t/*.t)
        static = PLAN_IN_SOURCE.search((src / test).read_bytes())
        planned = max(len(results), int(static.group(1)) if static else 0)
    passed = sum(results)
    failing = []
    elines = err.decode(errors="replace").splitlines()
    for i, line in enumerate(elines):
        if line.startswith("# FAIL: "):
            where = next(
                (x.strip() for x in elines[i + 1 : i + 4] if x.strip().startswith("L: ")), ""
            )
            got = []
            for x in elines[i + 1 : i + 40]:
                if x.startswith("# "):
                    break
                got.append(x.strip())
            got = got[got.index("results:") + 1 :][:8] if "results:" in got else got[:8]
            failing.append({"fail": line[8:], "where": where, "got": got})
    missing = max(0, planned - len(results))
    return {
        "file": test,
        "planned": planned,
        "passed": passed,
        "failed": planned - passed,
        "not_run": missing,
        "status": status,
        "seconds": round(time.monotonic() - started, 1),
        "failing": failing,
        "stderr_tail": err.decode(errors="replace")[-2000:]
        if planned - passed and not failing
        else "",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tests", nargs="*", help="t/*.t files (default: all of them)")
    p.add_argument("--impl", choices=("ours", "gitolite"), required=True)
    p.add_argument("--snapshot", default=SNAPSHOT)
    p.add_argument("--workdir", type=Path, help="default: /tmp/glsuite-IMPL")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per file")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--as-me",
        action="store_true",
        help="run as the calling user, HOME a fresh folder under --workdir (no system account;"
        " this interpreter's gitolite-triggers)",
    )
    ns = p.parse_args()
    if os.geteuid() != 0 and not ns.as_me:
        raise SystemExit("run as root: the suite runs as a throwaway system account (or --as-me)")
    work = ns.workdir or Path(f"/tmp/glsuite-{ns.impl}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    work.chmod(0o755)
    home = work / "home"
    account: Account | Myself
    if ns.as_me:
        home.mkdir()
        account = Myself(home)
    else:
        account = ensure_account(ACCOUNTS[ns.impl], home, "/bin/sh")
    src = home / "gitolite"
    export_snapshot(ns.snapshot, src)
    if ns.impl == "ours":
        bindir = Path(sys.executable).parent if ns.as_me else ours_bindir(account, work / "cache")  # type: ignore[arg-type]
        install_standins(src, bindir)
    commit_tree(src)
    if isinstance(account, Account):
        chown_tree(home, account)
    tests = ns.tests or sorted(str(t.relative_to(src)) for t in (src / "t").glob("*.t"))
    rows = []
    for test in tests:
        row = run_file(account, src, test, ns.timeout)
        rows.append(row)
        print(
            f"{row['file']:<32} {row['passed']:>5}/{row['planned']:<5}"
            f" failed {row['failed']:<4} ({row['seconds']}s)",
            flush=True,
        )
    planned = sum(int(r["planned"]) for r in rows)  # type: ignore[call-overload]
    passed = sum(int(r["passed"]) for r in rows)  # type: ignore[call-overload]
    print(f"TOTAL {ns.impl}: {passed} of {planned} assertions pass ({len(rows)} files)")
    if ns.json:
        ns.json.write_text(
            json.dumps(
                {"impl": ns.impl, "passed": passed, "planned": planned, "files": rows}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
