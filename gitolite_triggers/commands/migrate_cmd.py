"""``gitolite-triggers migrate [--dry-run] [--backup DIR]`` and ``migrate --rollback DIR``.

Takes over a gitolite v3 home in place, run as its account (docs/migrate.md): back up
what is replaced, import the Perl rc (``rc import``), carry LOCAL_CODE's common hooks into
the rc's hook lists, move aside a repo's own hook where ours go, take gitolite's block out
of authorized_keys, link our hooks in every repo, compile ``~/.gitolite/conf`` and fire
POST_COMPILE (authorized_keys now runs our forced command). It never prompts;
``--dry-run`` prints the plan, what carries over and what does not, and changes nothing.

``--rollback DIR`` puts back what the backup in DIR holds (the hooks, authorized_keys,
GL_ADMIN_BASE/hooks) so gitolite runs again; docs/migrate.md has the remaining step
(gitolite's own ``gitolite setup``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from gitolite_triggers import paths
from gitolite_triggers.errors import Fatal
from gitolite_triggers.migrate.home import (
    PRE_MIGRATE,
    Home,
    Step,
    backup_steps,
    classify_hooks,
    common_site_hooks,
    default_backup,
    is_gitolites,
    physical_repos,
    strip_gitolite_block,
)
from gitolite_triggers.repos import HOOK_NAMES

ABSENT = ".absent"  # beside bin-gitolite in a backup: there was no ~/bin/gitolite before


def _home_from(settings: dict[str, object], home: str, perl_rc: str) -> Home:
    def get(key: str, default: str) -> str:
        value = settings.get(key)
        return paths.expand(value) if isinstance(value, str) and value else default

    lc = settings.get("LOCAL_CODE")
    return Home(
        home=home,
        perl_rc=perl_rc,
        admin_base=get("GL_ADMIN_BASE", os.path.join(home, ".gitolite")),
        repo_base=get("GL_REPO_BASE", os.path.join(home, "repositories")),
        local_code=paths.expand(lc) if isinstance(lc, str) and lc else None,
    )


def build_plan(backup: str | None) -> tuple[list[Step], list[str], list[str]]:
    """(steps, what carries over, what does not: 'NAME: meaning' lines)."""
    from gitolite_triggers.commands.rc_cmd import _builtin_commands
    from gitolite_triggers.commands.setup_cmd import refresh_rc_d
    from gitolite_triggers.migrate.rcimport import plan_import, write_import

    home_dir = paths.home_dir()
    perl_rc = os.path.join(home_dir, ".gitolite.rc")
    if not os.path.isfile(perl_rc):
        raise Fatal(
            f"{perl_rc} does not exist: this is not a gitolite v3 home (nothing to migrate)"
        )
    first = plan_import(perl_rc, commands=_builtin_commands())
    home = _home_from(first.imported.settings, home_dir, perl_rc)
    conf = os.path.join(home.admin_base, "conf", "gitolite.conf")
    if not os.path.isfile(conf):
        raise Fatal(f"{conf} does not exist: gitolite's admin tree is missing")
    if not os.path.isdir(home.repo_base):
        raise Fatal(f"{home.repo_base} does not exist: gitolite's repositories are missing")
    common = common_site_hooks(home)
    local_hooks = {
        name: [os.path.join(home.local_code or "", "hooks", "common", name)] for name in common
    }
    written = (
        plan_import(perl_rc, hooks=local_hooks, commands=_builtin_commands())
        if local_hooks
        else first
    )
    repos = physical_repos(home.repo_base)
    rows, site = classify_hooks(home, repos)
    backup = backup or default_backup(home_dir)
    steps = backup_steps(home, backup, rows)

    def import_rc() -> None:
        from pathlib import Path

        refresh_rc_d(Path(paths.rc_d_dir()))
        write_import(written)

    steps.append(
        Step(f"write {paths.rc_file()} and rc.d/60-imported.yaml from {perl_rc}", import_rc)
    )
    for name in common:
        steps.append(
            Step(
                f"run {local_hooks[name][0]} from the rc's hooks: {name} list (gitolite linked it into every repo)",
                lambda: None,
            )
        )
    for hook in site:

        def aside(hook: str = hook) -> None:
            path = os.path.join(home.repo_base, hook)
            os.replace(path, path + PRE_MIGRATE)

        steps.append(
            Step(
                f"move the repo's own hook {hook} aside to {hook}{PRE_MIGRATE} (it no longer runs)",
                aside,
            )
        )

    def authkeys() -> None:
        from gitolite_triggers.atomicfile import write_atomic

        try:
            with open(home.authorized_keys, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            return
        new, removed = strip_gitolite_block(text)
        if removed:
            write_atomic(home.authorized_keys, new.encode("utf-8", "surrogateescape"))

    steps.append(
        Step(
            f"take gitolite's block out of {home.authorized_keys} (ours is written by POST_COMPILE)",
            authkeys,
        )
    )

    def hooks() -> None:
        from gitolite_triggers.rc import load_rc
        from gitolite_triggers.repos import relink_all_hooks

        rc = load_rc()
        relink_all_hooks(rc)
        ours = os.path.join(rc.admin_base, "hooks", "common")
        for repo in repos:
            folder = os.path.join(home.repo_base, f"{repo}.git", "hooks")
            for name in HOOK_NAMES:
                path = os.path.join(folder, name)
                if os.path.islink(path) and os.readlink(path) != os.path.join(ours, name):
                    if is_gitolites(home, path):
                        os.unlink(path)

    steps.append(Step(f"link our hooks in {len(repos)} repos, replacing gitolite's", hooks))
    from gitolite_triggers.gitolite.onpath import link_gitolite_command

    # the `gitolite` command: ours on the account's PATH (docs/gitolite-cli.md)
    link = os.path.join(home_dir, "bin", "gitolite")

    def put_on_path() -> None:
        kept = os.path.join(backup, "bin-gitolite")
        if os.path.islink(link):
            os.symlink(os.readlink(link), kept)
        elif os.path.lexists(link):
            shutil.copy2(link, kept, follow_symlinks=False)
        else:  # rollback removes ours, so `gitolite` is gitolite's (/usr/bin) again
            open(kept + ABSENT, "w").close()
        said = link_gitolite_command(home_dir, home.admin_base, replace=True)
        if said:
            print(f"     {said}")

    steps.append(
        Step(
            f"make {link} our gitolite command (gitolite's, if any, is backed up);"
            " ~/bin must come first on the account's PATH",
            put_on_path,
        )
    )
    carried = list(written.imported.carried) + [f"hooks: {n}" for n in common]
    carried += ["every repo, its gl-perms, gl-creator, description and refs (untouched)"]
    notes = [f"{n.name}: {n.meaning}" for n in written.imported.notes]
    specific = os.path.join(home.local_code or "", "hooks", "repo-specific")
    if (
        home.local_code
        and os.path.isdir(specific)
        and not any(c.startswith("ENABLE repo-specific-hooks") for c in carried)
    ):
        notes.append(
            f"{specific}: it exists, so conf 'option hook.*' lines now run its hooks"
            " (gitolite ran them only with ENABLE 'repo-specific-hooks')"
        )
    notes += [
        f"{h}: a hook of the repo's own, not gitolite's; kept as {h}{PRE_MIGRATE}, not run"
        for h in site
    ]
    return steps, carried, notes


def migrate(dry_run: bool, backup: str | None) -> int:
    base = os.path.join(paths.home_dir(), ".gitolite")
    if os.path.isdir(base) and os.stat(base).st_uid != os.geteuid():
        raise Fatal(f"run migrate as the gitolite account, the owner of {base}")
    steps, carried, notes = build_plan(backup)
    print("plan:" if dry_run else "migrating:")
    for n, step in enumerate(steps, 1):
        print(f"  {n}. {step.text}")
        if not dry_run:
            step.run()
    print("  then compile ~/.gitolite/conf and fire POST_COMPILE")
    for line in carried:
        print(f"carried over: {line}")
    for line in notes:
        print(f"not carried over: {line}", file=sys.stderr)
    if dry_run:
        return 0
    from gitolite_triggers.commands.setup_cmd import compile_and_fire
    from gitolite_triggers.rc import load_rc

    rc = load_rc()
    rc.apply_process_settings()
    status = compile_and_fire(rc)
    print("done; now check with `gitolite-triggers doctor` (docs/migrate.md has a checklist)")
    print(f"to roll back: gitolite-triggers migrate --rollback {steps and _backup_of(steps[0])}")
    return status


def _backup_of(step: Step) -> str:
    return step.text.rsplit(" to ", 1)[-1]


def rollback(backup: str) -> int:
    """Put back the hooks, GL_ADMIN_BASE/hooks and authorized_keys from ``backup``."""
    try:
        with open(os.path.join(backup, "home.json")) as f:
            home = Home(**json.load(f))
        with open(os.path.join(backup, "hooks.json")) as f:
            rows = json.load(f)
    except (OSError, ValueError, TypeError) as e:
        raise Fatal(f"{backup}: not a migrate backup ({e})") from None
    saved = os.path.join(backup, "admin-hooks")
    hooks_dir = os.path.join(home.admin_base, "hooks")
    if os.path.isdir(saved):
        shutil.rmtree(hooks_dir, ignore_errors=True)
        shutil.copytree(saved, hooks_dir, symlinks=True)
    ours = os.path.join(hooks_dir, "common")
    before = {(r["repo"], r["hook"]): r for r in rows}
    for repo in physical_repos(home.repo_base):
        folder = os.path.join(home.repo_base, f"{repo}.git", "hooks")
        for name in HOOK_NAMES:
            path = os.path.join(folder, name)
            row = before.get((repo, name))
            aside = path + PRE_MIGRATE
            if os.path.lexists(aside):
                os.replace(aside, path)
                continue
            if (
                os.path.islink(path)
                and os.readlink(path) == os.path.join(ours, name)
                and row is None
            ):
                os.unlink(path)
            if row is None:
                continue
            if os.path.lexists(path):
                os.unlink(path)
            if row["kind"] == "link":
                os.symlink(row["target"], path)
            else:
                shutil.copy2(os.path.join(backup, "repo-hooks", repo, name), path)
    kept = os.path.join(backup, "bin-gitolite")
    link = os.path.join(home.home, "bin", "gitolite")
    if os.path.exists(kept + ABSENT) and os.path.islink(link):
        os.unlink(link)  # migrate made it; without it `gitolite` is gitolite's again
        print(f"removed {link} (migrate made it)")
    if os.path.lexists(kept):
        if os.path.lexists(link):
            os.unlink(link)
        if os.path.islink(kept):
            os.symlink(os.readlink(kept), link)
        else:
            shutil.copy2(kept, link)
    keys = os.path.join(backup, "authorized_keys")
    if os.path.isfile(keys):
        shutil.copy2(keys, home.authorized_keys)
    for name in (".gitolite.rc.yaml",):
        path = os.path.join(home.home, name)
        if os.path.exists(path):
            os.replace(path, path + ".rolled-back")
    print(f"restored hooks, {hooks_dir} and {home.authorized_keys} from {backup}")
    print("now run gitolite's own `gitolite setup` to finish (it re-checks every repo's hooks)")
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="gitolite-triggers migrate",
        description="Take over this gitolite v3 home in place (docs/migrate.md). Never prompts.",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument(
        "--backup", metavar="DIR", help="where to back up (default ~/.gitolite-migrate/TIME)"
    )
    p.add_argument("--rollback", metavar="DIR", help="undo a migrate from its backup folder")
    ns = p.parse_args(argv)
    if ns.rollback:
        return rollback(ns.rollback)
    return migrate(ns.dry_run, ns.backup)
