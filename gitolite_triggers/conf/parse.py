"""gitolite.conf -> groups, rules and configs, the way gitolite's compile reads it.

One pass over the exploded lines does what gitolite does in three (explode, sugar, parse):

- every physical line is cleaned up like gitolite's ``cleanup_conf_line`` (comments cut,
  a ``#`` inside simple double quotes kept, spaces put around the first ``=``, whitespace
  squeezed), blank lines dropped;
- ``include "glob"`` is expanded in place (relative to ``conf/``, sorted like Perl's glob,
  each file once);
- the built-in sugar: ``RW..C``/``..D``/``..M`` rules add ``option CREATE_IS_C``/
  ``DELETE_IS_D``/``MERGE_CHECK = 1`` once per repo block, ``option X = Y`` is
  ``config gitolite-options.X = Y``, ``desc``/``owner``/``category`` are gitweb configs,
  ``CREATOR`` and role names in user lists become ``@CREATOR``/``@ROLE``, and
  ``= begin testconf`` / ``= begin template-data`` ... ``= end`` blocks are skipped;
- then each line is a group definition, a ``repo`` line, a rule or a ``config`` line.

Every rule expansion (ref x user) and every config line takes the next global sequence
number; access checks order rules by it. Anything else is an error naming file and line
(gitolite only warns "syntax error, ignoring" and drops the line).

``subconf [NAME] "glob"`` is an include with gitolite's delegation rules: groups the
subconf defines are renamed ``@NAME.group`` (and its own mentions follow), and its
``repo`` lines may name only repo NAME, group @NAME, or what matches a member the main
conf put in @NAME (a group it may not name is expanded; anything else is ignored with
gitolite's warning). A subconf cannot run ``subconf``.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitolite_triggers import bkoptions, linear_re
from gitolite_triggers.conf.errors import ConfError
from gitolite_triggers.names import (
    has_unsafe_chars,
    is_repo_name,
    is_repo_pattern,
    is_user_name,
    repo_name_problem,
)

Rule = tuple[int, str, str]  # (seq, perm, refex)
Config = tuple[int, str, str]  # (seq, key, value)

_COMMENT = re.compile(r'^((".*?"|[^#"])*)#.*')
_WS = re.compile(r"[ \t\n\r\f\v]+")
_INCLUDE = re.compile(r"^(include|subconf) (?:(\S+) )?(\S.+)$")
_GROUP = re.compile(r"^(@\S+) = (.*)")
_REPO = re.compile(r"^repo (.*)")
_RULE = re.compile(r"^(-|C|R|RW\+?(?:C?D?|D?C?)M?) (.* )?= (.+)")
_CONFIG = re.compile(r"^config (.+) = ?(.*)")
_OPTION = re.compile(r"^option (\S+) = (\S.*)")
_GITWEB = re.compile(r"^(desc|owner|category) = (\S.*)")
_NAME_VREF = re.compile(r"^(-|R\S+) \S.* = \S.*")
_SKIP_BEGIN = re.compile(r"^= *begin (testconf|template-data)$")
MASTER = "master"
_SUBCONF_NAME = re.compile(r"^[-0-9a-zA-Z_.]+$")
_GROUP_LHS = re.compile(r"^@(\S+) = ")
_GROUP_WORD = re.compile(r"(^| )(@\S+)(?= |$)")
_HOSTNAME = re.compile(r"%HOSTNAME\b", re.ASCII)
_SKIP_END = re.compile(r"^= *end$")
_RW_C = re.compile(r"RW.*C")
_QUOTED = re.compile(r"^['\"](.*)[\"']$", re.S)
_GITWEB_KEYS = {
    "desc": "gitweb.description",
    "owner": "gitweb.owner",
    "category": "gitweb.category",
}
_MAX_ERRORS = 50


def cleanup(line: str) -> str:
    """gitolite's cleanup_conf_line: cut the comment, space the first '=', squeeze whitespace."""
    if "#" in line:
        line = _COMMENT.sub(r"\1", line, count=1)
    line = line.replace("=", " = ", 1)
    return _WS.sub(" ", line).strip(" ")


@dataclass
class Parsed:
    """What a conf compiles to (gitolite's %repos, %configs, %groups), plus diagnostics."""

    repos: dict[str, dict[str, list[Rule]]] = field(default_factory=dict)
    configs: dict[str, list[Config]] = field(default_factory=dict)
    groups: dict[str, dict[str, None]] = field(default_factory=dict)  # ordered sets
    where: dict[str, tuple[str, int]] = field(default_factory=dict)  # repo key -> first mention
    rule_info: list[tuple[int, str, int]] = field(default_factory=list)  # seq, file, line
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    subconf_files: list[str] = field(default_factory=list)  # read as a sub-admin's subconf
    nlines: int = 0
    seq: int = 0


def _glob_sorted(pattern: str) -> list[str]:
    """Perl's glob(): braces expanded, sorted case-insensitively, a non-magic word returned as is."""
    out: list[str] = []
    for word in pattern.split(" "):
        for one in _braces(word):
            if not glob.has_magic(one):
                out.append(one)
                continue
            out.extend(sorted(glob.glob(one), key=lambda s: (s.lower(), s)))
    return out


def _braces(word: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", word)
    if not m:
        return [word]
    head, tail = word[: m.start()], word[m.end() :]
    return [x for alt in m.group(1).split(",") for x in _braces(head + alt + tail)]


class _Reader:
    """Reads gitolite.conf and its includes into (file, line, cleaned text) triples."""

    def __init__(
        self,
        conf_dir: Path,
        parsed: Parsed,
        errors: list[tuple[str, int, str]],
        hostname: str | None = None,
    ) -> None:
        self.conf_dir = conf_dir
        self.hostname = hostname
        self.parsed = parsed
        self.errors = errors
        # (context, dev, ino): a file is read once per context (the main conf, or one
        # subconf), so a sub-admin's include cannot use up a file the main conf reads later
        self.seen: set[tuple[str, int, int]] = set()
        self.master_files: set[str] = set()
        self.prefixed: dict[str, dict[str, str]] = {}  # subconf -> @group -> @sub.group

    def show(self, name: str) -> str:
        return f"conf/{name}"

    def read(self, name: str) -> tuple[bytes, tuple[int, int]]:
        """A file's bytes and (dev, inode), read with O_NOFOLLOW from inside conf/ only.

        Raises UnsafeFile for a symlink (anywhere under conf/), a fifo, device or
        socket, or a path leaving conf/: a pushed ``conf/leak.conf -> ~/.secret``
        must never be read, since syntax errors echo the lines they are about.
        """
        from gitolite_triggers.safefile import read_inside

        data, st = read_inside(str(self.conf_dir), name)
        return data, (st.st_dev, st.st_ino)

    def lines(self, name: str) -> Iterator[tuple[str, int, str, str]]:
        from gitolite_triggers.safefile import UnsafeFile

        shown = self.show(name)
        try:
            data, ident = self.read(name)
        except UnsafeFile as e:
            self.errors.append((shown, 0, f"refused: {e}; nothing outside conf/ is read"))
            return
        except OSError as e:
            self.errors.append((shown, 0, f"cannot read: {e.strerror or e}"))
            return
        yield from self.lines_of(shown, data, ident)

    def prefix_groupnames(self, line: str, sub: str) -> str:
        """gitolite's subconf renaming: a group defined in subconf ``sub`` is ``@sub.name``,
        and that subconf's later mentions of ``@name`` mean it; other groups are untouched."""
        names = self.prefixed.setdefault(sub, {})
        lhs = _GROUP_LHS.match(line)
        line = _GROUP_WORD.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), line)
        if lhs is not None:
            line = _GROUP_LHS.sub(f"@{sub}.{lhs.group(1)} = ", line, count=1)
            names["@" + lhs.group(1)] = f"@{sub}.{lhs.group(1)}"
        return line

    def lines_of(
        self, shown: str, data: bytes, ident: tuple[int, int], sub: str = MASTER
    ) -> Iterator[tuple[str, int, str, str]]:
        self.seen.add((sub, *ident))
        self.parsed.files.append(shown)
        if sub != MASTER:
            self.parsed.subconf_files.append(shown)
        else:
            self.master_files.add(shown)
        text = data.decode("utf-8", errors="surrogateescape")
        for lineno, raw in enumerate(text.split("\n"), 1):
            line = cleanup(raw)
            if not line:
                continue
            if self.hostname and "%HOSTNAME" in line:  # the rc's HOSTNAME, as gitolite
                line = _HOSTNAME.sub(self.hostname.replace("\\", "\\\\"), line)
            if sub != MASTER:
                line = self.prefix_groupnames(line, sub)
            self.parsed.nlines += 1
            m = _INCLUDE.match(line)
            if m is None:
                yield shown, lineno, line, sub
                continue
            is_subconf = m.group(1) == "subconf"
            if is_subconf and sub != MASTER:
                self.errors.append((shown, lineno, f"subconf '{sub}' attempting to run 'subconf'"))
                continue
            if is_subconf and m.group(2) is not None and not _SUBCONF_NAME.match(m.group(2)):
                self.errors.append((shown, lineno, f"bad subconf '{m.group(2)}'"))
                continue
            q = re.match(r"^\"(.+)\"$", m.group(3)) or re.match(r"^'(.+)'$", m.group(3))
            if q is None:
                self.errors.append(
                    (
                        shown,
                        lineno,
                        f"invalid include file/glob '{m.group(3)}' (quote it: include \"file.conf\")",
                    )
                )
                continue
            new_sub = (m.group(2) or "") if is_subconf else None
            yield from self.include(q.group(1), shown, lineno, sub, new_sub)

    def include(
        self, pattern: str, shown: str, lineno: int, sub: str, new_sub: str | None
    ) -> Iterator[tuple[str, int, str, str]]:
        """Expand ``include "glob"``: files inside conf/ only (stricter than gitolite, which
        also takes absolute paths and '..'); each word of the glob is relative to conf/."""
        for word in pattern.split(" "):
            if os.path.isabs(word) or ".." in word.split("/"):
                self.errors.append(
                    (
                        shown,
                        lineno,
                        f"include '{word}' refused: an include must name files inside conf/ "
                        "(no absolute path, no '..')",
                    )
                )
                continue
            yield from self.include_word(word, shown, lineno, sub, new_sub)

    def include_word(
        self, word: str, shown: str, lineno: int, sub: str, new_sub: str | None
    ) -> Iterator[tuple[str, int, str, str]]:
        """One word of an include/subconf glob; ``new_sub`` is None for an include, else the
        subconf's name ("" for the file's base name)."""
        from gitolite_triggers.safefile import UnsafeFile

        for found in _glob_sorted(str(self.conf_dir / word)):
            rel = os.path.relpath(found, self.conf_dir)
            if (os.path.isdir(found) and not os.path.islink(found)) or not os.path.lexists(found):
                self.parsed.warnings.append(f"{shown}:{lineno}: included file not found: '{rel}'")
                continue
            base = re.search(r"([^/]+).conf$", found)
            if base is None:
                self.errors.append(
                    (shown, lineno, f"invalid include filename '{rel}' (must end in .conf)")
                )
                continue
            try:
                data, ident = self.read(rel)
            except UnsafeFile as e:
                self.errors.append(
                    (shown, lineno, f"include '{rel}' refused: {e}; nothing outside conf/ is read")
                )
                continue
            except OSError as e:
                self.errors.append((shown, lineno, f"cannot read '{rel}': {e.strerror or e}"))
                continue
            name = sub if new_sub is None else new_sub or base.group(1)
            if new_sub == "" and name == MASTER:  # a file called master.conf: no full rights
                self.errors.append((shown, lineno, f"bad subconf '{name}' (from '{rel}')"))
                continue
            if not _SUBCONF_NAME.match(name):
                self.errors.append((shown, lineno, f"bad subconf '{name}'"))
                continue
            if (name, *ident) in self.seen:
                self.parsed.warnings.append(f"{shown}:{lineno}: {rel} already included")
                continue
            yield from self.lines_of(self.show(rel), data, ident, name)


def _top_level_alternation(pattern: str) -> bool:
    """Does ``pattern`` hold a ``|`` outside every group and character class? Such a
    pattern is anchored as ``^a|b$``: its second branch escapes the ``^``. A ``\\Q``
    (RE2's quoting, which would hide a ``(`` from this scan) counts as one too."""
    if "\\Q" in pattern:
        return True
    depth, in_class, escaped = 0, False, False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(depth - 1, 0)
        elif c == "|" and depth == 0:
            return True
    return False


class _Parser:
    def __init__(self, parsed: Parsed, roles: set[str], config_keys: list[re.Pattern[str]]) -> None:
        self.p = parsed
        self.roles = roles
        self.key_res = config_keys
        self.repolist: list[str] = []
        self.seen_cdm: set[str] = set()
        self.good_refs: set[str] = set()
        self.subconf = MASTER
        self.origin: dict[str, dict[str, str]] = {}  # group -> member -> subconf that added it
        self.ignored: dict[str, dict[str, None]] = {}  # subconf -> repos it may not name

    def warn(self, f: str, n: int, msg: str) -> None:
        self.p.warnings.append(f"{f}:{n}: {msg}")

    def expand(self, items: list[str]) -> list[str]:
        """Nested @groups (not @all) are replaced by their members, which must be defined."""
        out: list[str] = []
        for item in items:
            if item.startswith("@") and item != "@all":
                members = self.p.groups.get(item)
                if members is None:
                    raise _LineError(f"undefined group '{item}'")
                out.extend(sorted(members))
            else:
                out.append(item)
        return out

    def line(self, f: str, n: int, line: str) -> None:
        if " NAME/" in line and _NAME_VREF.match(line):  # gitolite's name_vref sugar
            line = line.replace(" NAME/", " VREF/NAME/")
        m = _RULE.match(line)
        if m is not None:
            self.rule(f, n, line, m)
            return
        if line.startswith("repo "):
            self.seen_cdm.clear()
        m = _OPTION.match(line)
        if m is not None:
            self.config(f, n, f"gitolite-options.{m.group(1)}", m.group(2), sugar=True)
            return
        m = _GITWEB.match(line)
        if m is not None:
            self.config(f, n, _GITWEB_KEYS[m.group(1)], m.group(2), sugar=True)
            return
        m = _GROUP.match(line)
        if m is not None:
            self.group(f, n, m.group(1), m.group(2).split())
            return
        m = _REPO.match(line)
        if m is not None:
            self.repo_line(f, n, m.group(1).split())
            return
        m = _CONFIG.match(line)
        if m is not None:
            self.config(f, n, m.group(1), m.group(2), sugar=False)
            return
        if line.startswith(("option ", "desc ", "owner ", "category ")):
            raise _LineError(f"syntax error: '{line}' (an option/desc/owner line needs '= value')")
        raise _LineError(f"syntax error: '{line}'")

    def group(self, f: str, n: int, lhs: str, rhs: list[str]) -> None:
        if not is_repo_name(lhs):
            raise _LineError(f"bad group '{lhs}'")
        for item in rhs:
            if not is_repo_pattern(item):
                raise _LineError(f"bad expansion '{item}'")
            if not is_repo_name(item):  # a pattern member, matched against repo names
                _check_regex("^" + item + "$", f"bad group member pattern '{item}'")
        members = self.p.groups.setdefault(lhs, {})
        origin = self.origin.setdefault(lhs, {})
        for item in self.expand(rhs):
            members.setdefault(item, None)
            origin.setdefault(item, self.subconf)
            self.p.where.setdefault(item, (f, n))

    def subconf_may_name(self, item: str) -> bool:
        """gitolite's delegation rule: subconf S may name repo S, group @S, or what matches
        (as ``^member$``) a member the main conf put in @S; the main conf names anything."""
        sub = self.subconf
        if sub == MASTER or item in (sub, "@" + sub):
            return True
        if _top_level_alternation(item):
            # ``sales/x|gitolite-admin`` matches ``^sales/..*$`` as a string, yet as a
            # pattern (``^sales/x|gitolite-admin$``) it matches gitolite-admin too
            return False
        for member, where in sorted(self.origin.get("@" + sub, {}).items()):
            if where != MASTER:
                continue
            if member == item:
                return True
            try:
                if linear_re.compile("^" + member + "$").search(item):
                    return True
            except linear_re.RegexError:
                continue
        return False

    def repo_line(self, f: str, n: int, items: list[str]) -> None:
        self.repolist = []
        queue = list(items)
        while queue:
            item = queue.pop(0)
            if not self.subconf_may_name(item):
                if item in self.p.groups:  # a group it may not name: try its members
                    shown = item.replace(f"@{self.subconf}.", "@", 1)
                    # gitolite's words first (t/ files match `WARNING: expanding '@g'`), where after
                    self.p.warnings.append(
                        f"expanding '{shown}'; this *may* slow down compilation ({f}:{n})"
                    )
                    queue[:0] = sorted(self.p.groups[item])
                else:
                    self.ignored.setdefault(self.subconf, {})[item] = None
                continue
            if item.endswith(".git"):
                self.warn(f, n, f"explicit '.git' extension ignored for {item}")
                item = item[:-4]
            if not is_repo_pattern(item):
                raise _LineError(f"bad reponame '{item}'")
            if not is_repo_name(item):
                _check_regex("^" + item + "$", f"bad repo pattern '{item}'")
            else:
                bad = repo_name_problem(item)
                if bad:
                    raise _LineError(f"bad reponame '{item}': {bad}")
            self.repolist.append(item)
            self.p.where.setdefault(item, (f, n))

    def rule(self, f: str, n: int, line: str, m: re.Match[str]) -> None:
        perm = m.group(1)
        # rw_cdm sugar: the first D / RW..C / M rule of a repo block switches the option on
        cdm = []
        if "D" in perm and "D" not in self.seen_cdm:
            self.seen_cdm.add("D")
            cdm.append("DELETE_IS_D")
        if _RW_C.search(perm) and "C" not in self.seen_cdm:
            self.seen_cdm.add("C")
            cdm.append("CREATE_IS_C")
        if "M" in perm and "M" not in self.seen_cdm:
            self.seen_cdm.add("M")
            cdm.append("MERGE_CHECK")
        raw_refs = (m.group(2) or "").split()
        users = []
        for u in m.group(3).split():
            users.append("@" + u if u == "CREATOR" or u in self.roles else u)
        refs = self.expand(raw_refs) or ["refs/.*"]
        refs = [r if r.startswith(("refs/", "VREF/")) else "refs/heads/" + r for r in refs]
        for u in users:
            if not is_user_name(u):
                raise _LineError(f"bad username '{u}'")
        for r in refs:
            if r in self.good_refs:
                continue
            if not is_repo_pattern(r):
                raise _LineError(f"bad ref '{r}'")
            _check_regex(r, f"bad refex '{r}'")
            self.good_refs.add(r)
        if perm == "R" and any(r != "refs/.*" for r in refs):
            self.warn(f, n, f"doesn't make sense to supply a ref ('{refs[0]}') for 'R' rule")
        repos = self.p.repos
        for r in refs:
            for u in users:
                if u.startswith("@") and u not in self.p.groups and not self.special(u):
                    self.warn(f, n, f"possible undeclared group '{u}'")
                self.p.seq += 1
                seq = self.p.seq
                self.p.rule_info.append((seq, f, n))
                rule = (seq, perm, r)
                for repo in self.repolist:
                    repos.setdefault(repo, {}).setdefault(u, []).append(rule)
        for opt in cdm:
            self.config(f, n, f"gitolite-options.{opt}", "1", sugar=True)

    def special(self, g: str) -> bool:
        g = g[1:]
        return g in ("all", "CREATOR") or g in self.roles

    def config(self, f: str, n: int, key: str, value: str, sugar: bool) -> None:
        q = _QUOTED.match(value)
        if q is not None:
            value = q.group(1)
        if not sugar and not key.startswith("gitolite-options."):
            if not any(rx.match(key) for rx in self.key_res):
                raise _LineError(
                    f"git config '{key}' not allowed (check GIT_CONFIG_KEYS in the rc)"
                )
        if has_unsafe_chars(value):
            raise _LineError(f"bad config value '{value}'")
        if key.startswith("gitolite-options.buildkite."):  # a typo must not turn CI off
            why = bkoptions.problem(key[len("gitolite-options.") :], value)
            if why:
                raise _LineError(why)
        self.p.seq += 1
        item = (self.p.seq, key, value)
        for repo in self.repolist:
            self.p.configs.setdefault(repo, []).append(item)


class _LineError(Exception):
    """An error in the current line; the parser adds file and line."""


def _check_regex(rx: str, msg: str) -> None:
    """Refuse a pattern the access check could not match in linear time (or at all).

    Checks run on user-chosen repo names and pushed refs with linear_re (RE2), which has
    no backreferences or lookaround; such a pattern is an error here, with its file and
    line, rather than a denial for every user at run time.
    """
    try:
        linear_re.compile(rx)
    except linear_re.RegexError as e:
        raise _LineError(f"{msg}: {e}") from None


def config_key_patterns(spec: str | None, where: tuple[str, int]) -> list[re.Pattern[str]]:
    """GIT_CONFIG_KEYS: space-separated regexes, each anchored and case-insensitive."""
    out = []
    for word in (spec or "").split():
        try:
            out.append(re.compile(f"^(?:{word})$", re.I))
        except re.error as e:
            raise ConfError(
                [(where[0], where[1], f"GIT_CONFIG_KEYS entry '{word}' is not a valid regex: {e}")]
            ) from None
    return out


def parse_conf(
    conf_dir: Path,
    roles: list[str] | None = None,
    config_keys: str | None = None,
    main: str = "gitolite.conf",
    hostname: str | None = None,
) -> Parsed:
    """Parse ``conf_dir/main`` (and its includes); raise ConfError listing every error found."""
    parsed = Parsed()
    errors: list[tuple[str, int, str]] = []
    reader = _Reader(conf_dir, parsed, errors, hostname)
    parser = _Parser(
        parsed,
        set(roles if roles is not None else ("READERS", "WRITERS")),
        config_key_patterns(config_keys, ("rc", 0)),
    )
    skipping = False
    for f, n, line, sub in reader.lines(main):
        if skipping:
            if _SKIP_END.match(line):
                skipping = False
            continue
        if _SKIP_BEGIN.match(line):
            skipping = True
            continue
        if sub != parser.subconf:  # a subconf starts (and ends) outside any repo block:
            parser.repolist = []  # its first rules must not land on the main conf's repos
        parser.subconf = sub
        try:
            parser.line(f, n, line)
        except _LineError as e:
            errors.append((f, n, str(e)))
            if len(errors) >= _MAX_ERRORS:
                break
    parsed.subconf_files = [f for f in parsed.subconf_files if f not in reader.master_files]
    for sub, names in sorted(parser.ignored.items()):
        parsed.warnings.append(
            f"subconf '{sub}' attempting to set access for {', '.join(sorted(names))}"
        )
    if errors:
        raise ConfError(errors)
    return parsed
