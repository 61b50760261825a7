"""Rule templates: ``=begin template-data`` blocks into repos' gl-repo-groups and gl-perms.

gitolite's ``compile-template-data`` (run at the end of every compile): a conf defines
rules once per *template*, a repo group such as ``repo @BASE`` using role names, and a
block between ``=begin template-data`` and ``=end`` (each alone on its line, at column 0)
says which templates each repo uses and who holds each role::

    =begin template-data
    repo base other = BASE PERSONAL
        FORCERS = u1
        READERS = u4 u5
    =end

For each plain repo named (an ``@group`` stands for its members), a repo that does not
exist is created as a wild repo of ``gitolite-admin`` (POST_CREATE fires with ``repo
gitolite-admin template-data``), then ``gl-repo-groups`` gets the template names and
``gl-perms`` the role lines; the access check reads both (conf/check.py), so the repo gets
the rules of ``repo @BASE`` with the roles filled in. A trailing ``\\`` continues a line,
``#`` lines are comments, and a line with characters other than letters, digits, ``_``,
``.``, ``@``, ``/``, ``=``, ``-`` and blanks is skipped with gitolite's warning. Every
``*.conf`` file under ``conf/`` is read, in sorted order, as gitolite does (symlinks and
files outside conf/ are not).
"""

from __future__ import annotations

import os
import re

from gitolite_triggers.names import is_repo_name, repo_name_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.rc import Rc

_REPO = re.compile(r"^\s*repo\s+(\S.*)=\s*(\S.*)$")
_ROLE = re.compile(r"^\s*(\S+)\s*=\s*(\S.*)$")
_BAD = re.compile(r"[^ \w.@/=-]", re.ASCII)
MAX_LINE = 65536
CREATOR = "gitolite-admin"


class Block:
    """One ``repo NAMES = TEMPLATES`` block and its role lines."""

    __slots__ = ("repos", "templates", "perms")

    def __init__(self, repos: str, templates: str) -> None:
        self.repos = repos.split()
        self.templates = " ".join(templates.split())
        self.perms = ""


def conf_files(conf_dir: str) -> list[str]:
    """``*.conf`` regular files under conf_dir (not through symlinks), sorted by path."""
    out = []
    for top, dirs, files in os.walk(conf_dir):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
        for name in files:
            path = os.path.join(top, name)
            if name.endswith(".conf") and os.path.isfile(path) and not os.path.islink(path):
                out.append(path)
    return sorted(out)


def parse_blocks(text: str, warnings: list[str]) -> list[Block]:
    """The template-data blocks of one file's text."""
    blocks: list[Block] = []
    inside = False
    pending = ""
    for raw in text.split("\n"):
        if not inside:
            inside = raw == "=begin template-data"
            continue
        if raw == "=end":
            inside = False
            continue
        if raw.startswith("=begin") or not raw.strip() or raw.lstrip().startswith("#"):
            continue
        line = raw.replace("\t", " ")[:MAX_LINE]
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if _BAD.search(line):
            warnings.append(f"bad line: {line}")
            continue
        m = _REPO.match(line)
        if m is not None:
            blocks.append(Block(m.group(1), m.group(2)))
            continue
        m = _ROLE.match(line)
        if m is not None and blocks:
            blocks[-1].perms += f"{m.group(1)} = {m.group(2)}\n"
    return blocks


def apply(
    rc: Rc,
    groups: dict[str, dict[str, None]],
    fire: bool = True,
    subconf_files: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """Read every template-data block and write the repos' files; return warnings.

    ``subconf_files`` (``conf/...`` as the parse shows them) were read as a sub-admin's
    subconf: their blocks are skipped, since a block can name any repo (gitolite-admin
    too), put it under any template and give it roles, past the subconf's delegation."""
    warnings: list[str] = []
    blocks: list[Block] = []
    conf_dir = os.path.join(rc.admin_base, "conf")
    delegated = set(subconf_files)
    for path in conf_files(conf_dir):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"=begin template-data" in data:  # most confs have none: no decoding, no parsing
            shown = "conf/" + os.path.relpath(path, conf_dir)
            if shown in delegated:
                warnings.append(f"{shown}: template-data in a subconf is ignored (delegation)")
                continue
            blocks.extend(parse_blocks(data.decode("utf-8", "surrogateescape"), warnings))
    for block in blocks:
        if not block.templates or not block.perms:
            continue
        queue = list(block.repos)
        seen: set[str] = set()
        while queue:
            repo = queue.pop(0)
            if repo.startswith("@"):
                members = sorted(groups.get(repo, {}))
                if not members:
                    warnings.append(f"undefined group '{repo}'")
                if repo not in seen:
                    seen.add(repo)
                    queue[:0] = members
                continue
            if is_repo_name(repo) and not repo_name_problem(repo):
                _write_one(rc, repo, block, fire)
    return warnings


def _write_one(rc: Rc, repo: str, block: Block, fire: bool) -> None:
    from gitolite_triggers import repos
    from gitolite_triggers.atomicfile import write_atomic

    path = f"{rc.repo_base}/{repo}.git"
    if not repos.inside_repo_base(rc, path):  # a symlink in the base leads elsewhere
        return
    if not os.path.isdir(path):
        repos.init_bare(rc, repo)
        write_atomic(f"{path}/gl-creator", CREATOR.encode())  # as gitolite: no newline
        if fire:
            from gitolite_triggers.runner import fire as fire_trigger

            fire_trigger(rc, "POST_CREATE", repo, CREATOR, "template-data")
    write_atomic(f"{path}/gl-repo-groups", block.templates.encode())
    write_atomic(f"{path}/gl-perms", block.perms.encode())


def has_blocks(rc: Rc) -> bool:
    """Whether any conf file holds a template-data block (most confs: no parse needed)."""
    for path in conf_files(os.path.join(rc.admin_base, "conf")):
        try:
            with open(path, "rb") as f:
                if b"=begin template-data" in f.read():
                    return True
        except OSError:
            continue
    return False


def reapply(rc: Rc) -> list[str]:
    """After an admin push's new conf is live (adminpush, after the ref moved): the templates
    step a staged compile leaves out, since it writes into live repos; warnings."""
    return compile_template_data(rc) if has_blocks(rc) else []


def compile_template_data(rc: Rc) -> list[str]:
    """``gitolite compile-template-data`` by hand: the conf's groups, then ``apply``.

    ``compile`` already does this at its end; this is for the command of that name
    (its groups come from parsing the conf again, as gitolite's reads the compiled rules).
    """
    from pathlib import Path

    from gitolite_triggers.conf.parse import parse_conf

    parsed = parse_conf(
        Path(rc.admin_base) / "conf",
        rc.get("ROLES"),
        rc.get("GIT_CONFIG_KEYS"),
        hostname=rc.get("HOSTNAME"),
    )
    return apply(rc, parsed.groups, subconf_files=parsed.subconf_files)
