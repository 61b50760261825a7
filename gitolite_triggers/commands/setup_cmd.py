"""``gitolite-triggers setup [--pubkey|-pk KEY.pub | --admin|-a NAME] [--hooks-only|-ho] [-m MSG]``.

``-a NAME`` names the admin without a key, as gitolite's ``setup -a`` does (the admin's
key is added to keydir/ later, by hand or by a push).

Prepares a server account in ``$HOME`` the way ``gitolite setup -pk`` does, and is
the "repair everything" command when run again (bare ``setup``):

1. ``~/.gitolite.rc.yaml`` (a commented starter file) if there is none, and
   ``~/.gitolite.rc.d/`` refreshed from the shipped fragments. Fragments an admin
   added are never touched; an admin's edit of a shipped fragment is kept beside it
   as ``NAME.orig`` before the shipped text is put back (edits belong in later
   fragments). An existing rc that is invalid stops setup with its file:line messages.
2. ``$GL_ADMIN_BASE/{conf,keydir,logs}``; ``conf/gitolite.conf`` if missing
   (``gitolite-admin`` RW+ for the admin, ``testing`` RW+ for @all); with a key,
   ``keydir/<admin>.pub`` (the admin's name comes from the key file's name exactly
   as ssh-authkeys derives users).
3. ``~/repositories/gitolite-admin.git``, with conf and keydir committed into it
   (``GIT_WORK_TREE=$GL_ADMIN_BASE``, as gitolite does) when they changed.
4. The central hook stubs rewritten and re-linked in EVERY physical repo; this runs
   before the compile so a broken conf cannot stop a hook repair.
5. Compile (creates ``testing.git`` and any other missing repo), then POST_COMPILE
   (authorized_keys, git configs, projects.list, git-daemon-export-ok).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

from gitolite_triggers import paths
from gitolite_triggers.adminpush import admin_lock
from gitolite_triggers.atomicfile import write_atomic
from gitolite_triggers.errors import Fatal
from gitolite_triggers.rc import Rc, load_rc
from gitolite_triggers.repos import ADMIN_REPO, init_bare, relink_all_hooks, repo_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.conf.compile import CompileReport

STARTER_RC = """\
# gitolite-triggers rc: settings for this server account (YAML).
#
# Trigger lists and defaults ship in ~/.gitolite.rc.d/ (refreshed by
# `gitolite-triggers setup`); change them with your own later fragment, e.g.
# ~/.gitolite.rc.d/50-local.yaml, rather than by editing the shipped ones.
# Check your edits with `gitolite-triggers rc check`; see the effect with
# `gitolite-triggers rc show`. Uncomment and change what you need:

# GL_REPO_BASE: ~/repositories
# GL_ADMIN_BASE: ~/.gitolite
# LOCAL_CODE: ~/.gitolite/local      # your own triggers/ and hooks/common/
# UMASK: 0077                        # 0027 lets a group (e.g. gitweb) read repos
# GIT_CONFIG_KEYS: ""                # regexes of git config keys the conf may set,
#                                    # e.g. "hooks\\\\..*" (desc/owner need none)
# ROLES: [READERS, WRITERS]
# AUTH_OPTIONS: no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty
# GITWEB_PROJECTS_LIST: ~/projects.list
# SITE_INFO: "Questions? Mail git-admin@example.com"
"""

DEFAULT_CONF = """\
repo {admin_repo}
    RW+     =   {admin}

repo testing
    RW+     =   @all
"""


class SetupError(Fatal):
    """A problem that stops setup; the message says what to do.

    No ``die`` log line: most come before the account has a log, and a refused setup
    leaves the account as it was (no ~/.gitolite made just for the log).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, log=())


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="gitolite-triggers setup",
        description="prepare (with --pubkey) or repair (without) this server account",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--pubkey",
        "-pk",
        metavar="KEY.pub",
        help="the admin's public key; the file name gives the admin's name",
    )
    who.add_argument(
        "--admin",
        "-a",
        metavar="NAME",
        help="the admin's name, without a key (as gitolite's setup -a)",
    )
    p.add_argument(
        "--hooks-only",
        "-ho",
        action="store_true",
        help="only rewrite and re-link the hooks in every repo",
    )
    p.add_argument(
        "-m",
        dest="message",
        metavar="MSG",
        default="gitolite-triggers setup",
        help="commit message for the admin repo (default: %(default)s)",
    )
    sshd = p.add_argument_group("sshd's AuthorizedKeysCommand (as root; docs/admin.md)")
    sshd.add_argument(
        "--sshd-config",
        action="store_true",
        help="install the account's root-owned key lookup launcher, print the sshd_config lines",
    )
    sshd.add_argument("--account", metavar="NAME", help="the account sshd logs in (e.g. git)")
    sshd.add_argument("--home", metavar="DIR", help="its HOME (default: from the passwd entry)")
    sshd.add_argument(
        "--launcher",
        metavar="PATH",
        help="where (default: /usr/local/libexec/gitolite-triggers/authorized-keys-NAME)",
    )
    return p.parse_args(argv)


# -- 1. rc -------------------------------------------------------------------------


SHIPPED_MANIFEST = ".shipped.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refresh_rc_d(rc_d: Path, shipped: Path = Path(paths.SHIPPED_RC_D)) -> list[str]:
    """Bring the shipped fragments in ``rc_d`` up to date; return what was done.

    ``.shipped.json`` remembers the hash of each fragment as installed, so an older
    shipped text is replaced quietly, while a fragment the admin edited is kept beside
    it as ``NAME.orig``. A fragment no longer shipped is removed if unedited. Files
    the admin added are never touched.
    """
    done: list[str] = []
    rc_d.mkdir(parents=True, exist_ok=True)
    manifest_path = rc_d / SHIPPED_MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    new_manifest: dict[str, str] = {}
    for src in sorted(shipped.glob("*.yaml")):
        dst = rc_d / src.name
        text = src.read_bytes()
        new_manifest[src.name] = _sha(text)
        try:
            current = dst.read_bytes()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if current is None:
            done.append(f"installed {dst}")
        elif manifest.get(src.name) == _sha(current):
            done.append(f"updated {dst}")
        else:
            keep = dst.with_name(dst.name + ".orig")
            keep.write_bytes(current)
            done.append(
                f"refreshed {dst} (your edited copy is kept as {keep.name}; put changes in a later fragment)"
            )
        write_atomic(dst, text)
    for name, sha in manifest.items():
        old = rc_d / name
        if name in new_manifest or not old.is_file():
            continue
        if _sha(old.read_bytes()) == sha:
            old.unlink()
            done.append(f"removed {old} (no longer shipped)")
        else:
            done.append(f"kept {old}: no longer shipped, but you edited it")
    if new_manifest != manifest:
        write_atomic(
            manifest_path, (json.dumps(new_manifest, indent=1, sort_keys=True) + "\n").encode()
        )
    return done


def ensure_rc() -> list[str]:
    done = []
    rc = Path(paths.rc_file())
    if not rc.exists():
        rc.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text(STARTER_RC)
        done.append(f"wrote {rc}")
    done.extend(refresh_rc_d(Path(paths.rc_d_dir())))
    return done


# -- 2. the admin's key and the default conf -----------------------------------------


def check_pubkey(path: Path) -> tuple[str, str]:
    """Validate the admin's key file; return (admin name, the key's one line)."""
    from gitolite_triggers.postcompile.ssh_authkeys import (
        MAX_KEY_FILE,
        check_key_text,
        fingerprint_check,
        user_from_filename,
        user_problem,
    )

    if not path.name.endswith(".pub"):
        raise SetupError(
            f"{path}: the key file's name must end in .pub (the name before it is the admin's user name)"
        )
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as e:
        raise SetupError(f"{path}: cannot read it: {e.strerror or e}") from None
    key = check_key_text(data)  # a private key is named as such, never shown
    if isinstance(key, str):
        if "PRIVATE" in key:
            raise SetupError(f"{path}: {key}; give --pubkey the .pub file")
        raise SetupError(
            f"{path}: not a public key line: the file must hold exactly one line, "
            f"'type base64 [comment]' with no options ({key})"
        )
    admin = user_from_filename(path.name)
    why = user_problem(admin)
    if why:
        raise SetupError(f"{path}: {why}")
    key.user, key.source = admin, str(path)
    good, _ = fingerprint_check([key])
    if not good:
        raise SetupError(f"{path}:1: ssh-keygen -l does not accept this key")
    return admin, key.text


def check_admin_name(name: str) -> str:
    """``setup -a NAME``: the name must be a user name ssh-authkeys would accept."""
    from gitolite_triggers.postcompile.ssh_authkeys import user_problem

    why = user_problem(name)
    if why:
        raise SetupError(f"-a: {why}")
    return name


def prepare_admin_base(
    rc: Rc, admin: str | None, key_line: str | None
) -> tuple[list[str], list[str]]:
    """Create the admin base folders, the default conf and the admin's key.

    Returns (messages, paths written relative to $GL_ADMIN_BASE).
    """
    done: list[str] = []
    written: list[str] = []
    base = Path(rc.admin_base)
    for sub in ("conf", "keydir", "logs"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    conf = base / "conf" / "gitolite.conf"
    if not conf.exists():
        if admin is None:
            raise SetupError(
                f"{conf} does not exist yet: the first setup needs the admin's key or name: `setup --pubkey NAME.pub` or `setup -a NAME`"
            )
        write_atomic(conf, DEFAULT_CONF.format(admin_repo=ADMIN_REPO, admin=admin).encode())
        done.append(f"wrote {conf}")
        written.append("conf/gitolite.conf")
    if admin is not None and key_line is not None:
        dst = base / "keydir" / f"{admin}.pub"
        new = key_line + "\n"
        if not dst.exists() or dst.read_text(errors="replace") != new:
            write_atomic(dst, new.encode())
            done.append(f"wrote {dst}")
            written.append(f"keydir/{admin}.pub")
    return done, written


# -- 3. the admin repo ----------------------------------------------------------------


def _git(
    args: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        stdin=subprocess.DEVNULL,
    )


def _identity_env(env: dict[str, str]) -> dict[str, str]:
    """Fill in a committer identity when git has none configured (a fresh account)."""
    if _git(["var", "GIT_COMMITTER_IDENT"], env, check=False).returncode == 0:
        return env
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "gitolite-triggers"
    email = f"{user}@{socket.gethostname() or 'localhost'}"
    return {
        **env,
        "GIT_AUTHOR_NAME": env.get("GIT_AUTHOR_NAME") or user,
        "GIT_AUTHOR_EMAIL": env.get("GIT_AUTHOR_EMAIL") or email,
        "GIT_COMMITTER_NAME": env.get("GIT_COMMITTER_NAME") or user,
        "GIT_COMMITTER_EMAIL": env.get("GIT_COMMITTER_EMAIL") or email,
    }


def admin_git_env(rc: Rc) -> dict[str, str]:
    """git's environment for the admin repo with $GL_ADMIN_BASE as its work tree."""
    keep = ("GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_CONFIG_NOSYSTEM")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith(keep)}
    env.update(GIT_DIR=str(repo_path(rc, ADMIN_REPO)), GIT_WORK_TREE=rc.admin_base)
    return env


def ensure_admin_repo(rc: Rc) -> list[str]:
    path = repo_path(rc, ADMIN_REPO)
    if path.is_dir():
        return []
    init_bare(rc, ADMIN_REPO)
    return [f"created {path}"]


def commit_admin_repo(rc: Rc, message: str, written: list[str]) -> list[str]:
    """Commit what setup wrote into gitolite-admin.git.

    A new repo gets conf/gitolite.conf and all of keydir (gitolite's first commit).
    Later, only the files this run wrote are committed, on top of the branch's own
    tree (a temporary index), so a setup run while $GL_ADMIN_BASE holds the last good
    checkout after a bad admin push does not quietly revert that push.
    """
    done: list[str] = []
    path = repo_path(rc, ADMIN_REPO)
    env = admin_git_env(rc)
    base = Path(rc.admin_base)
    has_head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], env, check=False).returncode == 0
    if not has_head:
        written = [
            p
            for p in ("conf/gitolite.conf", "keydir")
            if (base / p).is_file() or ((base / p).is_dir() and any((base / p).iterdir()))
        ]
    if not written:
        return done
    tmp_index = path / f"gl-setup-index.{os.getpid()}"
    tenv = {**env, "GIT_INDEX_FILE": str(tmp_index)}
    try:
        _git(["read-tree", "HEAD"] if has_head else ["read-tree", "--empty"], tenv)
        _git(["add", "--", *written], tenv)
        if (
            has_head
            and _git(["diff", "--cached", "--quiet", "HEAD"], tenv, check=False).returncode == 0
        ):
            return done
        r = _git(
            ["commit", "--quiet", "--no-verify", "-m", message], _identity_env(tenv), check=False
        )
        if r.returncode != 0:
            raise SetupError(f"committing to {path} failed: {(r.stderr or r.stdout).strip()}")
    finally:
        tmp_index.unlink(missing_ok=True)
    _git(["add", "--", *written], env)  # the checkout's own index tracks them too
    done.append(f"committed {', '.join(written)} to {ADMIN_REPO}")
    return done


def record_if_checked_out(rc: Rc) -> None:
    """After a good compile: if $GL_ADMIN_BASE is exactly HEAD, HEAD is the last good commit."""
    from gitolite_triggers.adminpush import record_good

    env = admin_git_env(rc)
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], env, check=False).stdout.strip()
    if head and _git(["diff", "--quiet", "HEAD", "--"], env, check=False).returncode == 0:
        record_good(repo_path(rc, ADMIN_REPO), head)


# -- 4. hooks: repos.relink_all_hooks; 5. compile + POST_COMPILE ------------------------------------------------------------


def compile_and_fire(rc: Rc) -> int:
    """Compile the rules, then fire POST_COMPILE; a conf error is a Fatal naming file:line."""
    from gitolite_triggers.errors import fatal_lines
    from gitolite_triggers.recompile import compile_rules

    def not_compiled(problem: str) -> Fatal:
        ending = "the rules were not compiled; the last good compiled rules (if any) stay in force"
        return Fatal(fatal_lines(problem, ending))

    def compiled(report: CompileReport) -> None:
        if report.created:
            print(f"created {', '.join(report.created)}")
        record_if_checked_out(rc)

    return compile_rules(rc, not_compiled, on_compiled=compiled)[1]


def _gitolite_on_path(rc: Rc) -> list[str]:
    """``~/bin/gitolite`` -> our ``gitolite`` command (docs/gitolite-cli.md), as gitolite's
    install links it: sites' scripts call it by that name. A real gitolite's link is left."""
    from gitolite_triggers.gitolite.onpath import link_gitolite_command

    said = link_gitolite_command(str(paths.home_dir()), rc.admin_base)
    return [said] if said else []


def main(argv: list[str]) -> int:
    ns = parse_args(argv)
    if ns.sshd_config:  # root's step, not the account's: nothing below applies
        from gitolite_triggers.commands.sshd_setup import run as sshd_setup

        return sshd_setup(ns.account, ns.home, ns.launcher)
    say: list[str] = []
    try:
        admin = key_line = None
        if ns.pubkey:
            admin, key_line = check_pubkey(Path(ns.pubkey))
        elif ns.admin is not None:
            admin = check_admin_name(ns.admin)
        if shutil.which("git") is None:
            raise SetupError("git is not on PATH")
        say.extend(ensure_rc())
        rc = load_rc()  # RcError (file:line) is reported by guard.py, before anything else changes
        rc.apply_process_settings()
        if ns.hooks_only:
            n = relink_all_hooks(rc)
            print(f"hooks re-linked in {n} repo{'s' if n != 1 else ''}")
            return 0
        conf = Path(rc.admin_base) / "conf" / "gitolite.conf"
        if admin is None and not conf.exists():
            raise SetupError(
                f"{conf} does not exist yet: the first setup needs the admin's key or name: `setup --pubkey NAME.pub` or `setup -a NAME`"
            )
        say.extend(ensure_admin_repo(rc))
        with admin_lock(repo_path(rc, ADMIN_REPO)):  # not while an admin push is applied
            done, written = prepare_admin_base(rc, admin, key_line)
            say.extend(done)
            say.extend(commit_admin_repo(rc, ns.message, written))
            from gitolite_triggers import faults

            faults.point("setup:committed")
            n = relink_all_hooks(rc)
            say.append(f"hooks checked in {n} repo{'s' if n != 1 else ''}")
            say.extend(_gitolite_on_path(rc))
            for line in say:
                print(line)
            say = []
            from gitolite_triggers import adminpush, adminstage

            git_dir = repo_path(rc, ADMIN_REPO)
            if adminstage.read_drift(git_dir) is not None:  # a push not wholly applied
                return adminpush.apply_tip(
                    rc, git_dir, adminpush.head_branch(admin_git_env(rc)), ""
                )
            status = compile_and_fire(rc)
            if status == 0:
                adminpush.settle(rc)
            return status
    except SetupError:
        for line in say:  # what was done before the refusal
            print(line)
        raise
