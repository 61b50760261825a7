"""``compile_conf(rc)``: gitolite.conf -> compiled store, creating the repos the conf names.

What gitolite's ``compile`` does, in the same order:

1. parse ``$GL_ADMIN_BASE/conf/gitolite.conf`` (a ConfError stops everything here:
   nothing is created and the last good compiled state stays in force);
2. create missing plain repos (names in rules/configs, and members of repo groups that
   have rules): PRE_CREATE(repo), ``git init --bare`` with our hooks; an existing repo
   whose update hook is not ours gets its hooks re-linked (gitolite re-hooks repos it
   finds without its ``gl-conf``);
3. write the compiled store atomically;
4. POST_CREATE(repo) for each created repo, minus the entries that are also in
   POST_COMPILE (gitolite's de-dup: the admin push runs POST_COMPILE right after, so
   the same updaters need not run once per new repo).

Never POST_COMPILE: ``setup`` and the admin push fire it. Compiles are serialised
with a lock file so two admin pushes cannot interleave their writes.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitolite_triggers.conf.errors import ConfError
from gitolite_triggers.conf.parse import Parsed, parse_conf
from gitolite_triggers.conf.store import live_store_path, write_store
from gitolite_triggers.conf.store import store_path as store_path  # re-exported
from gitolite_triggers.names import is_repo_name, repo_name_problem
from gitolite_triggers.rc import Rc

STORE_VERSION = 1


class CompileError(ConfError):
    """Compiling failed for a reason outside the conf text (a PRE_CREATE program, git init)."""


@dataclass
class CompileReport:
    """What a compile did."""

    created: list[str] = field(default_factory=list)
    rehooked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repos: int = 0  # plain repos named by the conf
    patterns: int = 0
    rules: int = 0  # sequence numbers used (rule expansions + config lines)
    store_bytes: int = 0
    seconds: float = 0.0


def conf_repo_names(parsed: Parsed) -> list[str]:
    """Plain repo names from the conf: gitolite's new_repos() candidates, sorted."""
    names = {k for k in parsed.repos if is_repo_name(k) and not k.startswith("@")}
    names.update(k for k in parsed.configs if is_repo_name(k) and not k.startswith("@"))
    for key in parsed.repos:
        if key.startswith("@") and key != "@all":
            names.update(parsed.groups.get(key, ()))
    return sorted(
        n for n in names if is_repo_name(n) and not n.startswith("@") and "EXTCMD/" not in n
    )


def build_entries(parsed: Parsed, conf_repos: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The store's header and entries for a parsed conf (see store.py for the keys)."""
    entries: dict[str, Any] = {}
    for key in parsed.repos.keys() | parsed.configs.keys():
        entries["R" + key] = (parsed.repos.get(key, {}), parsed.configs.get(key, []))
    inverted: dict[str, list[str]] = {}
    for group, members in parsed.groups.items():
        for m in members:
            inverted.setdefault(m, []).append(group)
    for m, groups in inverted.items():
        entries["G" + m] = sorted(groups)
    patterns = sorted(k for k in parsed.repos.keys() | parsed.configs.keys() if not is_repo_name(k))
    group_patterns = sorted(m for m in inverted if not is_repo_name(m))
    wild = sorted(set(patterns) | set(group_patterns))
    entries["Lconf_repos"] = conf_repos
    entries["Lwild_patterns"] = wild
    entries["Lrule_info"] = parsed.rule_info
    # for the `gitolite list-*` commands (gitolite_triggers/gitolite/listers.py)
    entries["Lrule_repos"] = sorted(parsed.repos)
    entries["Lrule_users"] = sorted({u for rules in parsed.repos.values() for u in rules})
    entries["Lgroups"] = {g: list(members) for g, members in parsed.groups.items()}
    header = {
        "version": STORE_VERSION,
        "patterns": patterns,
        "group_patterns": group_patterns,
        "compiled_at": time.time(),
        "files": parsed.files,
    }
    return header, entries


def _entry_id(entry: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return entry.get("program", ""), tuple(entry.get("args", ()))


def compile_conf(
    rc: Rc,
    fire_triggers: bool = True,
    *,
    staged: Staged | None = None,
) -> CompileReport:
    """Compile the conf; raise ConfError (``file:line: ...``) and keep the last good state on error.

    ``staged`` (an admin push, adminstage.py): read that conf folder, write that store file,
    create new repos with its ``create`` (in a staging folder), and leave POST_CREATE to it.
    """
    started = time.monotonic()
    live_conf = Path(rc.admin_base) / "conf"
    live_conf.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(live_conf / ".compile.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        conf_dir = Path(staged.conf_dir) if staged else live_conf
        return _compile_locked(rc, conf_dir, started, fire_triggers, staged)
    finally:
        os.close(lock_fd)


@dataclass
class Staged:
    """Where a staged compile reads and writes (adminstage.py)."""

    conf_dir: str
    store_file: str
    create: Callable[[str], None]


def _compile_locked(
    rc: Rc, conf_dir: Path, started: float, fire_triggers: bool, staged: Staged | None = None
) -> CompileReport:
    from gitolite_triggers import repos as repos_mod

    parsed = parse_conf(
        conf_dir, rc.get("ROLES"), rc.get("GIT_CONFIG_KEYS"), hostname=rc.get("HOSTNAME")
    )
    report = CompileReport(warnings=list(parsed.warnings), rules=parsed.seq)
    names = conf_repo_names(parsed)
    unsafe = [(n, why) for n in names if (why := repo_name_problem(n))]
    if unsafe:  # only group members get here: repo lines are checked by the parser
        raise ConfError(
            [
                (
                    *parsed.where.get(n, ("conf/gitolite.conf", 0)),
                    f"bad reponame '{n}' (a member of a repo group): {why}",
                )
                for n, why in unsafe
            ]
        )
    report.repos = len(names)
    base = rc.repo_base
    for name in names:
        folder = f"{base}/{name}.git"
        if os.path.isdir(folder):
            if not repos_mod.hooks_ok(rc, folder):
                repos_mod.install_hooks(rc, folder)
                report.rehooked.append(name)
            continue
        where = parsed.where.get(name, ("conf/gitolite.conf", 0))
        if fire_triggers:
            status = _fire(rc, "PRE_CREATE", None, name)
            if status:
                raise CompileError(
                    [
                        (
                            where[0],
                            where[1],
                            f"creating repo '{name}': PRE_CREATE failed with status {status}",
                        )
                    ]
                )
        try:
            if staged:
                staged.create(name)
            else:
                repos_mod.init_bare(rc, name)
        except Exception as e:  # reported with the conf location
            raise CompileError([(where[0], where[1], f"creating repo '{name}' failed: {e}")]) from e
        report.created.append(name)
    header, entries = build_entries(parsed, names)
    report.patterns = len(header["patterns"])
    if staged:
        report.store_bytes = write_store(staged.store_file, header, entries)
    else:
        report.store_bytes = _write(rc, header, entries)
    if fire_triggers and report.created and not staged:
        skip = {_entry_id(e) for e in rc.trigger_list("POST_COMPILE")}
        post = [e for e in rc.trigger_list("POST_CREATE") if _entry_id(e) not in skip]
        for name in report.created:
            _fire(rc, "POST_CREATE", post, name)
    if not staged:  # a staged compile writes no live repo: adminpush runs this after the ref moves
        from gitolite_triggers.conf import templates  # gitolite's compile-template-data

        report.warnings.extend(
            templates.apply(rc, parsed.groups, fire_triggers, parsed.subconf_files)
        )
    report.seconds = time.monotonic() - started
    return report


def _write(rc: Rc, header: dict[str, Any], entries: dict[str, Any]) -> int:
    return write_store(live_store_path(rc), header, entries)


def _fire(rc: Rc, name: str, entries: list[dict[str, Any]] | None, repo: str) -> int:
    from gitolite_triggers.runner import fire_entries

    lst = rc.trigger_list(name) if entries is None else entries
    if not lst:
        return 0
    return fire_entries(rc, name, lst, [repo], repo=repo)
