"""The systems under test, each in its own unix account: gitolite, gitolite-triggers, git-shell.

Both gitolites get the same conf, the same keydir and the same rc changes:
``GIT_CONFIG_KEYS`` (so ``config`` lines compile), ``LOCAL_CODE`` and three trigger lists
for the runner measure: ``BENCH_NOOP`` (N no-op external programs, ``LOCAL_CODE/triggers/noop``),
``BENCH_INPROC`` (N no-op in-process programs: a Perl trigger module for gitolite, a
``module:function`` for us) and ``BENCH_ZERO`` (none).
The conf is written where an admin push would put it (``~/.gitolite/conf`` and
``~/.gitolite/keydir``) and compiled with each system's own CLI, as the admin repo's
post-update hook would.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from vs_gitolite.accounts import Account, chown_tree
from vs_gitolite.confgen import ADMIN

GITOLITE_BINDIR = Path("/usr/share/gitolite3")
GIT_CONFIG_KEYS = r"hooks\.emailprefix"
NOOP_SCRIPT = "#!/bin/sh\nexit 0\n"
NOOP_COUNT = 20  # external no-ops per list
INPROC_COUNT = 2000  # in-process no-ops cost a few µs each: 2,000 lift the difference (~10 ms) above the ±1 ms noise of two process runs
IN_PROCESS_NOOP = "operator:not_"  # a stdlib callable: takes argv, returns False (status 0)


@dataclass
class Timed:
    """One timed command: wall seconds, exit status, output."""

    seconds: float
    status: int
    stdout: str
    stderr: str


@dataclass
class Side:
    """What the two gitolites have in common; subclasses say which command does what."""

    label: str
    account: Account
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.account.home

    @property
    def admin_base(self) -> Path:
        return self.home / ".gitolite"

    @property
    def repo_base(self) -> Path:
        return self.home / "repositories"

    def timed(
        self, argv: list[str], input: bytes | None = None, env: dict[str, str] | None = None
    ) -> Timed:
        started = time.perf_counter()
        result = self.account.run(
            argv, input=input, check=False, extra_env={**self.extra_env, **(env or {})}
        )
        seconds = time.perf_counter() - started
        return Timed(
            seconds,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )

    def must(self, argv: list[str], what: str) -> Timed:
        out = self.timed(argv)
        if out.status != 0:
            raise RuntimeError(
                f"{self.label}: {what} failed (exit {out.status}): {' '.join(argv)}\n{out.stderr}{out.stdout}"
            )
        return out

    # -- the conf, as an admin push would leave it --------------------------------
    def install_conf(self, text: str, keys: dict[str, Path]) -> None:
        conf = self.admin_base / "conf" / "gitolite.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(text)
        keydir = self.admin_base / "keydir"
        if keydir.exists():
            shutil.rmtree(keydir)
        keydir.mkdir()
        for name, private in keys.items():
            shutil.copyfile(private.with_suffix(".pub"), keydir / f"{name}.pub")
        chown_tree(self.admin_base / "conf", self.account)
        chown_tree(keydir, self.account)

    def write_conf(self, text: str) -> None:
        """Change the conf text only (a warm recompile after an edit)."""
        conf = self.admin_base / "conf" / "gitolite.conf"
        conf.write_text(text)

    def wipe_repos(self, keep: tuple[str, ...] = ("gitolite-admin.git",)) -> None:
        """Remove every repo but ``keep``: the next compile creates them all (cold)."""
        for entry in self.repo_base.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry)

    def local_code(self) -> Path:
        """LOCAL_CODE with one no-op trigger program, for the runner measure."""
        local = self.home / "local"
        (local / "triggers").mkdir(parents=True, exist_ok=True)
        noop = local / "triggers" / "noop"
        noop.write_text(NOOP_SCRIPT)
        noop.chmod(0o755)
        chown_tree(local, self.account)
        return local

    # -- subclasses ------------------------------------------------------------------
    def setup(self, admin_pub: Path) -> None:
        raise NotImplementedError

    def compile_argv(self) -> list[str]:
        raise NotImplementedError

    def post_compile_argv(self) -> list[str]:
        raise NotImplementedError

    def trigger_argv(self, name: str) -> list[str]:
        raise NotImplementedError

    def access_argv(self, repo: str, user: str, perm: str, ref: str) -> list[str]:
        raise NotImplementedError

    def shell_command(self) -> str:
        """The forced command its ssh-authkeys writes (checked after POST_COMPILE)."""
        raise NotImplementedError

    def _copy_pub(self, admin_pub: Path) -> Path:
        target = self.home / f"{ADMIN}.pub"
        shutil.copyfile(admin_pub, target)
        chown_tree(target, self.account)
        return target


class Gitolite(Side):
    """Debian's gitolite3 (code in /usr/share/gitolite3, ``gitolite`` on PATH)."""

    def setup(self, admin_pub: Path) -> None:
        pub = self._copy_pub(admin_pub)
        self.must(["gitolite", "setup", "-pk", pub.name], "gitolite setup -pk")
        rc = self.home / ".gitolite.rc"
        text = rc.read_text()
        text, n = re.subn(
            r"GIT_CONFIG_KEYS\s*=>\s*'[^']*'",
            f"GIT_CONFIG_KEYS => '{GIT_CONFIG_KEYS}'",
            text,
            count=1,
        )
        if n != 1:
            raise RuntimeError(f"could not set GIT_CONFIG_KEYS in {rc}")
        local = self.local_code()
        module = local / "lib" / "Gitolite" / "Triggers" / "BenchNoop.pm"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text("package Gitolite::Triggers::BenchNoop;\nsub noop { return; }\n1;\n")
        chown_tree(local, self.account)
        noops = ", ".join(["'noop'"] * NOOP_COUNT)
        inproc = ", ".join(["'BenchNoop::noop'"] * INPROC_COUNT)
        extra = (
            f'\n    LOCAL_CODE => "{local}",\n    BENCH_NOOP => [ {noops} ],\n'
            f"    BENCH_INPROC => [ {inproc} ],\n    BENCH_ZERO => [ ],\n"
        )
        text, n = re.subn(r"^(%RC = \()", lambda m: m.group(1) + extra, text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"could not add the bench keys to {rc}")
        rc.write_text(text)

    def compile_argv(self) -> list[str]:
        return ["gitolite", "compile"]

    def post_compile_argv(self) -> list[str]:
        return ["gitolite", "trigger", "POST_COMPILE"]

    def trigger_argv(self, name: str) -> list[str]:
        return ["gitolite", "trigger", name]

    def access_argv(self, repo: str, user: str, perm: str, ref: str) -> list[str]:
        return ["gitolite", "access", repo, user, perm, ref]

    def shell_command(self) -> str:
        return str(GITOLITE_BINDIR / "gitolite-shell")


class Ours(Side):
    """gitolite-triggers, installed where its account can run it (see pyenv.py)."""

    bindir: Path = Path("/nonexistent")

    @property
    def exe(self) -> str:
        return str(self.bindir / "gitolite-triggers")

    def setup(self, admin_pub: Path) -> None:
        pub = self._copy_pub(admin_pub)
        self.must([self.exe, "setup", "--pubkey", pub.name], "gitolite-triggers setup --pubkey")
        local = self.local_code()
        fragment = self.home / ".gitolite.rc.d" / "90-bench.yaml"
        fragment.parent.mkdir(parents=True, exist_ok=True)
        noops = "\n".join(["  - noop"] * NOOP_COUNT)
        inproc = "\n".join([f"  - {IN_PROCESS_NOOP}"] * INPROC_COUNT)
        fragment.write_text(
            "# added by bench/vs_gitolite: same rc changes as on the gitolite side\n"
            f"GIT_CONFIG_KEYS: '{GIT_CONFIG_KEYS}'\n"
            f"LOCAL_CODE: {local}\n"
            f"BENCH_NOOP:\n{noops}\n"
            f"BENCH_INPROC:\n{inproc}\n"
            "BENCH_ZERO: []\n"
        )
        chown_tree(fragment.parent, self.account)
        self.must([self.exe, "rc", "check"], "gitolite-triggers rc check")

    def compile_argv(self) -> list[str]:
        return [self.exe, "compile"]

    def post_compile_argv(self) -> list[str]:
        return [self.exe, "trigger", "POST_COMPILE"]

    def trigger_argv(self, name: str) -> list[str]:
        return [self.exe, "trigger", name]

    def access_argv(self, repo: str, user: str, perm: str, ref: str) -> list[str]:
        return [self.exe, "access", repo, user, perm, ref]

    def shell_command(self) -> str:
        # ssh-authkeys forces the account's lean launcher, not the console script in bindir
        return f"{self.admin_base / 'bin' / 'gitolite-triggers'} shell"
