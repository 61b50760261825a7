"""Bare repositories on the server: where they live, creating them, and their hooks.

Every repo's ``hooks/{pre-receive,update,post-receive,post-update}`` is a symlink to one
script in ``$GL_ADMIN_BASE/hooks/common/``, as gitolite does, so ``setup`` can repair or
upgrade every repo's hooks by rewriting one file and re-linking. The script is a lean
launcher (``launcher.py``: this interpreter with ``-IS``) that calls
``gitolite_triggers.hooks.entry.main``: no shell, and no PyYAML/jsonschema/requests.
"""

from __future__ import annotations

import os

from gitolite_triggers.rc import Rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


HOOK_NAMES = ("pre-receive", "update", "post-receive", "post-update")
ADMIN_REPO = "gitolite-admin"


def repo_dir(rc: Rc, repo: str) -> str:
    """Absolute path of ``repo``'s bare directory (``<GL_REPO_BASE>/<repo>.git``)."""
    return os.path.join(rc.repo_base, f"{repo}.git")


def repo_path(rc: Rc, repo: str) -> Path:
    """``repo_dir`` as a Path."""
    from pathlib import Path

    return Path(repo_dir(rc, repo))


def inside_repo_base(rc: Rc, path: str | os.PathLike[str]) -> bool:
    """True when ``path`` (or, if missing, its nearest existing parent) resolves inside the
    repo base: a symlink inside the base can never lead a fetch, push, create or ``perms``
    outside it."""
    base_path = os.path.abspath(rc.repo_base)
    base = os.path.realpath(base_path)
    probe = os.path.abspath(path)
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if probe == base_path:
            return True  # nothing exists yet below the base: no symlink to follow
        if parent == probe:
            return False
        probe = parent
    real = os.path.realpath(probe)
    return real == base or real.startswith(base + os.sep)


def exists(rc: Rc, repo: str) -> bool:
    return os.path.isdir(repo_dir(rc, repo))


def common_hooks_dir(rc: Rc) -> Path:
    from pathlib import Path

    return Path(common_hooks(rc))


def common_hooks(rc: Rc) -> str:
    """The folder of the central hook stubs (a string: the update hook uses it per push)."""
    return os.path.join(rc.admin_base, "hooks", "common")


def hook_script(hook: str) -> str:
    """The text of the central hook stub for ``hook`` (a lean launcher: see launcher.py)."""
    from gitolite_triggers.launcher import render

    return render("gitolite_triggers.hooks.entry", f"main({hook!r}, sys.argv[1:])", f"{hook} hook")


def write_common_hooks(rc: Rc) -> Path:
    """(Re)write the central hook stubs atomically; return their folder."""
    from gitolite_triggers.launcher import write_if_changed

    folder = common_hooks(rc)
    for hook in HOOK_NAMES:
        write_if_changed(os.path.join(folder, hook), hook_script(hook))
    return common_hooks_dir(rc)


def wanted_hooks(rc: Rc, admin: bool = False) -> list[str]:
    """Which of our hooks a repo gets.

    ``update`` (check 2) and ``post-receive`` (push records, hook lists) always;
    ``pre-receive`` and ``post-update`` only where there is work for them (the rc lists
    programs for them; gitolite-admin's pre-receive checks and stages a push while it is
    still in quarantine, its post-update makes it live): each hook
    is a process start on every push, and an idle one costs the pusher ~10-20 ms for nothing.
    """
    hooks = ["update", "post-receive"]
    specific = _repo_specific_hooks(rc)  # option hook.<hook> may name programs for any repo
    if admin or specific or rc.hook_list("pre-receive"):
        hooks.append("pre-receive")
    if admin or specific or rc.hook_list("post-update"):
        hooks.append("post-update")
    return hooks


def _repo_specific_hooks(rc: Rc) -> bool:
    """Is repohooks.py's feature on (``LOCAL_CODE/hooks/repo-specific`` exists)?"""
    local = rc.local_code
    return local is not None and os.path.isdir(os.path.join(local, "hooks", "repo-specific"))


def _hook_links(rc: Rc, admin: bool = False) -> dict[str, str]:
    """hook name -> link target for one repo: our stubs, plus LOCAL_CODE's common hooks."""
    common = common_hooks(rc)
    if not os.path.exists(os.path.join(common, "update")):
        write_common_hooks(rc)
    links = {hook: os.path.join(common, hook) for hook in wanted_hooks(rc, admin)}
    if rc.local_code:
        local = os.path.join(rc.local_code, "hooks", "common")
        if os.path.isdir(local):
            for name in sorted(os.listdir(local)):
                full = os.path.join(local, name)
                if name not in HOOK_NAMES and os.path.isfile(full):
                    links[name] = full
    return links


def is_admin_repo(rc: Rc, path: Path | str) -> bool:
    return os.path.abspath(path) == os.path.abspath(repo_dir(rc, ADMIN_REPO))


def install_hooks(rc: Rc, path: Path | str, links: dict[str, str] | None = None) -> None:
    """Make ``path/hooks`` point at the central stubs this repo needs (``wanted_hooks``).

    Whatever else sits under those names is replaced; a link to one of our stubs the repo
    no longer needs is removed. Hooks an admin keeps in ``$LOCAL_CODE/hooks/common/`` are
    linked too, except our four names (gitolite likewise never lets the update hook be
    replaced; admins add programs through the rc's ``hooks:`` lists instead). The common
    case, a repo with no hooks yet, is one mkdir and one symlink per hook.
    """
    if links is None:
        links = _hook_links(rc, is_admin_repo(rc, path))
    hooks = os.path.join(path, "hooks")
    os.makedirs(hooks, exist_ok=True)
    for name, target in links.items():
        link = os.path.join(hooks, name)
        try:
            os.symlink(target, link)
            continue
        except FileExistsError:
            if os.path.islink(link) and os.readlink(link) == target:
                continue
        tmp = os.path.join(hooks, f".{name}.{os.getpid()}.tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)
    common = common_hooks(rc)
    for name in HOOK_NAMES:
        if name not in links:
            link = os.path.join(hooks, name)
            if os.path.islink(link) and os.readlink(link) == os.path.join(common, name):
                os.unlink(link)


def update_hook_is_ours(repo_dir: str, admin_base: str) -> bool:
    """True when ``repo_dir/hooks/update`` links to our central stub.

    gitolite denies everything on a repo whose update hook is not its own (a push could
    otherwise skip check 2); the rules check, compile and setup all ask this one question.
    """
    try:
        return os.readlink(os.path.join(repo_dir, "hooks", "update")) == os.path.join(
            admin_base, "hooks", "common", "update"
        )
    except OSError:
        return False


def hooks_ok(rc: Rc, path: Path | str) -> bool:
    """``update_hook_is_ours`` for a repo of this account."""
    return update_hook_is_ours(str(path), rc.admin_base)


_TEMPLATES: dict[str, str] = {}


def _template(rc: Rc) -> str:
    """One ``git init --bare`` per process, copied for every new repo.

    Spawning git for each of 10,000 repos is most of a cold compile; a copy of what git
    made (with the caller's git config, e.g. init.defaultBranch) is the same repo, made
    in a fraction of the time. Removed when the process exits.
    """
    key = rc.admin_base
    found = _TEMPLATES.get(key)
    if found and os.path.isdir(found):
        return found
    import atexit
    import shutil
    import subprocess
    import tempfile

    os.makedirs(rc.admin_base, exist_ok=True)
    top = tempfile.mkdtemp(prefix=".repo-template-", dir=rc.admin_base)
    atexit.register(shutil.rmtree, top, True)
    template = os.path.join(top, "t.git")
    proc = subprocess.run(
        ["git", "init", "--bare", "--quiet", template],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # git's messages name server paths: never relayed to a pusher
    )
    if proc.returncode != 0:
        import errno

        shutil.rmtree(top, ignore_errors=True)
        err = proc.stderr.decode(errors="replace")
        if "write" in err or "No space" in err:
            raise OSError(errno.ENOSPC, "git init could not write (No space left on device?)")
        raise OSError(errno.EIO, f"git init --bare failed with status {proc.returncode}")
    # git's sample hooks and placeholder description are noise in a server repo.
    for leftover in ("description",):
        if os.path.exists(os.path.join(template, leftover)):
            os.unlink(os.path.join(template, leftover))
    ensure_push_options(template)
    sample_dir = os.path.join(template, "hooks")
    if os.path.isdir(sample_dir):
        shutil.rmtree(sample_dir)
    _TEMPLATES[key] = template
    return template


def init_bare(rc: Rc, repo: str, links: dict[str, str] | None = None) -> Path:
    """Create the bare repo (and parent dirs) as ``git init --bare`` would, then add hooks.

    Built under a temp name beside it and renamed into place, hooks included: a crash
    (kill -9, a full disk) leaves either no repo or a whole one, never a folder that
    looks like a repo and has no update hook (the next compile would skip it).
    """
    path = repo_path(rc, repo)
    build_repo(rc, str(path), links if links is not None else _hook_links(rc, repo == ADMIN_REPO))
    return path


def build_repo(rc: Rc, dest: str, links: dict[str, str] | None = None) -> None:
    """Make a new bare repo at ``dest`` (must not exist) from the template, atomically."""
    import shutil

    parent, name = os.path.split(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.gl-new.{os.getpid()}")
    if os.path.lexists(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(_template(rc), tmp, symlinks=True, copy_function=shutil.copyfile)
        install_hooks(rc, tmp, links if links is not None else _hook_links(rc))
        from gitolite_triggers import faults

        faults.point("repo:built")
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_push_options(path: Path | str) -> None:
    """Make the repo advertise push options (``git push -o ci.skip``, docs/buildkite.md):
    ``receive.advertisePushOptions = true`` unless its config already sets that key (an
    admin's ``false`` stays). Every new repo gets it from the template; ``setup`` (and
    anything else that re-links every repo's hooks) adds it to older ones."""
    config = os.path.join(path, "config")
    try:
        with open(config, encoding="utf-8", errors="replace") as f:
            if "advertisepushoptions" in f.read().lower():
                return
    except FileNotFoundError:
        return
    import subprocess

    subprocess.run(  # argv list
        ["git", "config", "--file", config, "receive.advertisePushOptions", "true"],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def initialized_line(path: os.PathLike[str] | str) -> str:
    """What ``git init --bare`` says, which gitolite shows whenever it creates a repo."""
    return f"Initialized empty Git repository in {os.path.abspath(path)}/"


def relink_all_hooks(rc: Rc) -> int:
    """Rewrite the central hook stubs and point every repo's hooks at them; return the count.

    ``setup`` (a repair) and an admin push that touched ``hooks/common/`` both do this."""
    # A walk of GL_REPO_BASE: it needs no compiled state, so a repair works even when
    # the compiled rules are missing or broken.
    write_common_hooks(rc)
    repos = physical_repos(rc)
    for repo in repos:
        install_hooks(rc, repo_path(rc, repo))
        ensure_push_options(repo_path(rc, repo))
    return len(repos)


def physical_repos(rc: Rc) -> list[str]:
    """Repos that exist under GL_REPO_BASE (``*.git`` folders, not looked into), sorted.

    An explicit stack, not recursion: a tree made deeper than the interpreter's stack by
    hand (1,100 levels) must not break ``info``, POST_COMPILE or ``setup`` (issue 10).
    Symlinked folders are not entered. Nothing deeper than MAX_REPO_DEPTH levels can hold a repo
    any client could name, so the walk stops there; such a subtree, and a ``.git`` folder
    whose name fails the canonical check, is skipped with a log line.
    """
    from gitolite_triggers.names import MAX_REPO_DEPTH, repo_name_problem

    base = rc.repo_base
    out: list[str] = []
    skipped: list[tuple[str, str]] = []  # (name, why)
    stack: list[tuple[str, str, int]] = [(base, "", 0)]  # (folder, its name prefix, depth)
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            is_git = entry.name.endswith(".git")
            try:  # a `*.git` symlink to a folder is listed (as before); no symlink is entered
                if not entry.is_dir(follow_symlinks=is_git):
                    continue
            except OSError:
                continue
            name = prefix + entry.name
            if is_git:
                repo = name[:-4]
                problem = repo_name_problem(repo)
                if problem is None:
                    out.append(repo)
                else:
                    skipped.append((repo, problem))
            elif depth + 1 < MAX_REPO_DEPTH:
                stack.append((entry.path, name + "/", depth + 1))
            else:
                skipped.append((name + "/", f"is more than {MAX_REPO_DEPTH} levels deep"))
    if skipped:
        from gitolite_triggers import glog

        for name, why in sorted(skipped)[:20]:
            glog.log(rc, "warn", f"repo base walk: skipped '{name[:300]}': it {why}")
    return sorted(out)
