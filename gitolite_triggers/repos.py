"""Bare repositories on the server: where they live, creating them, and their hooks.

Every repo's ``hooks/{pre-receive,update,post-receive,post-update}`` is a symlink to one
script in ``$GL_ADMIN_BASE/hooks/common/``, as gitolite does, so ``setup`` can repair or
upgrade every repo's hooks by rewriting one file and re-linking. The script is a tiny
Python stub with this interpreter in its shebang that calls
``gitolite_triggers.hooks.entry.main``: no shell, and no PyYAML/jsonschema/requests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitolite_triggers.rc import Rc

HOOK_NAMES = ("pre-receive", "update", "post-receive", "post-update")
HOOK_MARK = "# gitolite-triggers hook"
ADMIN_REPO = "gitolite-admin"


def repo_path(rc: Rc, repo: str) -> Path:
    """Absolute path of ``repo``'s bare directory (``<GL_REPO_BASE>/<repo>.git``)."""
    return Path(rc.repo_base) / f"{repo}.git"


def exists(rc: Rc, repo: str) -> bool:
    return repo_path(rc, repo).is_dir()


def common_hooks_dir(rc: Rc) -> Path:
    return Path(rc.admin_base) / "hooks" / "common"


def hook_script(hook: str) -> str:
    """The text of the central hook stub for ``hook``."""
    return (
        f"#!{sys.executable}\n"
        f"{HOOK_MARK}: written by `gitolite-triggers setup`; edits are overwritten.\n"
        "import sys\n"
        "from gitolite_triggers.hooks.entry import main\n"
        f"sys.exit(main({hook!r}, sys.argv[1:]))\n"
    )


def write_common_hooks(rc: Rc) -> Path:
    """(Re)write the central hook stubs atomically; return their folder."""
    folder = common_hooks_dir(rc)
    folder.mkdir(parents=True, exist_ok=True)
    for hook in HOOK_NAMES:
        target = folder / hook
        text = hook_script(hook)
        try:
            if target.read_text() == text and os.access(target, os.X_OK):
                continue
        except OSError:
            pass
        tmp = folder / f".{hook}.{os.getpid()}.tmp"
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    return folder


def install_hooks(rc: Rc, path: Path) -> None:
    """Point ``path/hooks/<hook>`` at the central stubs (replacing whatever is there).

    Hooks an admin keeps in ``$LOCAL_CODE/hooks/common/`` are linked too, except the
    four above, which are ours (gitolite likewise never lets the update hook be replaced;
    admins add programs through the rc's ``hooks:`` lists instead).
    """
    common = common_hooks_dir(rc)
    if not (common / "update").exists():
        write_common_hooks(rc)
    hooks = path / "hooks"
    hooks.mkdir(exist_ok=True)
    links = {hook: common / hook for hook in HOOK_NAMES}
    if rc.local_code:
        local = Path(rc.local_code) / "hooks" / "common"
        if local.is_dir():
            for f in local.iterdir():
                if f.name not in links and f.is_file():
                    links[f.name] = f
    for name, target in links.items():
        link = hooks / name
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        tmp = hooks / f".{name}.{os.getpid()}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)


def hooks_ok(rc: Rc, path: Path) -> bool:
    """True when the repo's update hook is ours (gitolite denies everything otherwise)."""
    link = path / "hooks" / "update"
    return link.is_symlink() and os.readlink(link) == str(common_hooks_dir(rc) / "update")


def init_bare(rc: Rc, repo: str) -> Path:
    """``git init --bare`` the repo (and parent dirs), drop git's sample description, add hooks."""
    import subprocess

    path = repo_path(rc, repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603
        ["git", "init", "--bare", "--quiet", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    desc = path / "description"
    if desc.exists():
        desc.unlink()
    install_hooks(rc, path)
    return path
