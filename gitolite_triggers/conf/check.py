"""gitolite's access() and git_config() over one compiled snapshot.

This is gitolite's Load.pm behaviour (see docs/conf.md), re-done over our store:

- repo memberships: the repo itself and ``@all``; pattern keys matching the repo or its
  generic name (the creator's name replaced by ``CREATOR``), anchored as gitolite does
  (``/^KEY$/``); the ``@groups`` containing the repo or its generic name, directly or
  through a regex member; names listed in the repo's ``gl-repo-groups``;
- a plain repo name's own rules count only while that repo exists (gitolite keeps them
  in the repo's ``gl-conf``, which it reads only for an existing repo);
- user memberships: the user, ``@all``, the user's groups, and for an existing repo the
  roles its ``gl-perms`` gives (plus ``@CREATOR`` for the creator);
- rules: all of those (repo x user) rule lists, in global sequence order; first match wins.

A Checker lives for one query (or one bulk call such as ``readable``): it memoises the
repo memberships it works out, so the C/D/M downgrade, the deny-rules option, the ^C
pre-check and the rule collection of one query share them. A new query makes a new
Checker, so filesystem state (existence, gl-creator, gl-perms) is read again: a wild
repo may be created between two checks of one batch.
"""

from __future__ import annotations

import os

from gitolite_triggers import linear_re
from gitolite_triggers.conf.errors import AccessError
from gitolite_triggers.conf.store import Snapshot
from gitolite_triggers.linear_re import RegexError
from gitolite_triggers.names import (
    ALNUM,
    WORD_CHARS,
    is_ref,
    is_repo_name,
    is_repo_pattern,
    is_user_name,
    repo_name_problem,
)
from gitolite_triggers.names import safe_ref as make_safe_ref
from gitolite_triggers.repos import update_hook_is_ours

# Patterns are matched by linear_re (RE2: linear time, so a user-chosen name cannot make
# a check backtrack for minutes); it imports re2 only when a check needs a real regex (a
# wild pattern that may match, a refex that is not a plain prefix): ~4 ms per session.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gitolite_triggers.linear_re import Pattern

REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")
QUANTIFIERS = frozenset("*+?{")
GROUP_NAME_CHARS = ALNUM | frozenset("_@-")


def rx(pattern: str) -> Pattern:
    """A compiled linear-time regex, cached for the process (by linear_re).

    Raises RegexError for a pattern RE2 cannot take (a backreference, a lookaround) or an
    invalid one: never a fallback to Python's backtracking ``re``.
    """
    return linear_re.compile(pattern)


def _anchored(key: str) -> Pattern:
    """``/^KEY$/`` for a wild repo or group pattern; a pattern that cannot be matched in
    linear time (a store compiled before RE2, say) denies the check (AccessError)."""
    # gitolite interpolates the key into /^$key$/: a top-level alternation is not grouped
    try:
        return rx("^" + key + "$")
    except RegexError as e:
        raise AccessError(
            f"the rules' repo pattern '{key}' cannot be checked ({e}); access denied"
        ) from None


_prefixes: dict[str, str | None] = {}


def literal_prefix(key: str) -> str | None:
    """What every match of ``/^KEY$/`` starts with, or None when that is not known.

    The text before the first regex character, minus its last character when a
    quantifier follows (``ab*`` promises only ``a``); None when the key has a ``|``
    anywhere, since an alternation can start anywhere. Lets a check skip a wild pattern
    that cannot match without compiling it, or importing ``re`` at all.
    """
    if key in _prefixes:
        return _prefixes[key]
    prefix: str | None = None
    if "|" not in key:
        end = next((i for i, c in enumerate(key) if c in REGEX_CHARS), len(key))
        if end < len(key) and key[end] in QUANTIFIERS:
            end = max(end - 1, 0)
        prefix = key[:end]
    _prefixes[key] = prefix
    return prefix


def may_match(key: str, name: str) -> bool:
    """False only when ``/^KEY$/`` certainly does not match ``name`` (see literal_prefix)."""
    prefix = literal_prefix(key)
    return prefix is None or name.startswith(prefix)


def refex_matches(refex: str, ref: str) -> bool:
    """``/^REFEX/`` against a ref; a plain prefix (``refs/heads/``, ``refs/.*``) needs no regex."""
    plain = refex[:-2] if refex.endswith(".*") else refex
    if REGEX_CHARS.isdisjoint(plain):
        return ref.startswith(plain)
    return rx("^" + refex).search(ref) is not None


def perm_allows(aa: str, perm: str) -> bool:
    """Does a rule's permission (``RW+C``...) grant the attempted access ``aa``?

    gitolite turns ``aa`` into a regex (``+`` escaped, ``C`` -> ``RW.*C``, ``M`` -> ``.*M``)
    and searches the permission with it; the usual letters are answered without one.
    """
    if aa in ("R", "W", "+", "D", "M"):
        return aa in perm
    if aa == "C":
        at = perm.find("RW")
        return at >= 0 and "C" in perm[at + 2 :]
    if aa == "^C":
        return perm.startswith("C")
    aaq = aa.replace("+", "\\+", 1)
    aaq = aaq.replace("M", ".*M", 1)
    return rx(aaq).search(perm) is not None


def perl_true(v: str | None) -> bool:
    return bool(v) and v != "0"


def sanity(repo: str) -> None:
    """gitolite's sanity(): the repo name (or pattern) a check may be asked about.

    A plain name (gitolite's REPONAME_PATT, ``@group`` names included) must pass the
    canonical check, ``names.repo_name_problem``: an alias such as ``hr//payroll`` never
    gets as far as a rule lookup. A pattern (``info`` and admins ask about those) gets
    gitolite's own checks: it names no folder (see ``Checker.missing``).
    """
    if not repo or not is_repo_pattern(repo):
        raise AccessError(f"invalid repo '{repo}'")
    if is_repo_name(repo):
        problem = repo_name_problem(repo)
        if problem:
            raise AccessError(f"'{repo}' {problem}")
        return
    if repo.endswith("/"):
        raise AccessError(f"'{repo}' ends with a '/'")
    if repo.endswith(".git"):
        raise AccessError(f"'{repo}' ends with '.git'")


def _word_boundary(text: str, i: int) -> bool:
    """Perl's (ASCII) ``\\b`` at position ``i`` of ``text``."""
    before = i > 0 and text[i - 1] in WORD_CHARS
    after = i < len(text) and text[i] in WORD_CHARS
    return before != after


def replace_creator(repo: str, creator: str) -> str:
    """``repo`` with its first whole-word ``creator`` made ``CREATOR``; "" when there is none.

    gitolite does ``s/\\b$creator\\b/CREATOR/``: the name goes into the regex as it is, so
    user ``j.doe`` matches ``jxdoe`` and takes that user's ``dev/CREATOR/..*`` namespace
    (issue 10, defect 9). Here the name is a literal string, with the same word-boundary
    rule around it; plain string search, no regex.
    """
    if not creator:
        return ""
    start = repo.find(creator)
    while start >= 0:
        end = start + len(creator)
        if _word_boundary(repo, start) and _word_boundary(repo, end):
            return repo[:start] + "CREATOR" + repo[end:]
        start = repo.find(creator, start + 1)
    return ""


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


class Checker:
    """Access checks against one snapshot; cheap to create, caches only snapshot data."""

    def __init__(
        self, snap: Snapshot, repo_base: str, admin_base: str, roles: list[str] | None
    ) -> None:
        self.snap = snap
        self.repo_base = repo_base
        self.admin_base = admin_base
        self.roles = set(roles if roles is not None else ("READERS", "WRITERS"))
        self.patterns: list[str] = snap.header.get("patterns", [])
        self.group_patterns: list[str] = snap.header.get("group_patterns", [])
        self._groups: dict[str, list[str]] = {}
        self._payload: dict[str, Any] = {}
        self._rms: dict[str, list[str]] = {}
        self._missing: dict[str, bool] = {}
        self._creator: dict[str, str] = {}
        self._rules: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        self._options: dict[tuple[str, str], str] = {}
        self._hooked: dict[str, bool] = {}
        self._warned_roles: set[str] = set()

    # -- filesystem state ------------------------------------------------------------
    def path(self, repo: str) -> str:
        return f"{self.repo_base}/{repo}.git"

    def missing(self, repo: str) -> bool:
        got = self._missing.get(repo)
        if got is None:
            sanity(repo)
            # a pattern names no folder: probing `base/foo/..*.git` could only find one
            # made by hand, possibly outside the base (`a/../../x*`)
            plain = is_repo_name(repo)
            got = self._missing[repo] = not plain or not os.path.isdir(self.path(repo))
        return got

    def creator(self, repo: str) -> str:
        """gl-creator of an existing repo; ``$GL_USER`` for one not yet created (as gitolite)."""
        if self.missing(repo):
            return os.environ.get("GL_USER", "")
        got = self._creator.get(repo)
        if got is None:
            text = _read(self.path(repo) + "/gl-creator")
            got = self._creator[repo] = "" if text is None else text.removesuffix("\n")
        return got

    def hook_present(self, repo: str) -> bool:
        if self.missing(repo):
            return True
        got = self._hooked.get(repo)
        if got is None:
            got = self._hooked[repo] = update_hook_is_ours(self.path(repo), self.admin_base)
        return got

    # -- snapshot data ---------------------------------------------------------------
    def groups_of(self, name: str) -> list[str]:
        g = self._groups.get(name)
        if g is None:
            g = self._groups[name] = self.snap.get("G" + name) or []
        return g

    def payload(self, key: str) -> Any:
        if key in self._payload:
            return self._payload[key]
        v = self._payload[key] = self.snap.get("R" + key)
        return v

    # -- memberships -----------------------------------------------------------------
    def generic_name(self, repo: str) -> str:
        """The repo's name with its creator's name made ``CREATOR`` (see replace_creator)."""
        base2 = replace_creator(repo, self.creator(repo))
        return "" if base2 == repo else base2

    def repo_memberships(self, repo: str) -> list[str]:
        """Repo keys whose rules and configs apply to ``repo`` (memoised for this Checker)."""
        got = self._rms.get(repo)
        if got is None:
            got = self._rms[repo] = self._repo_memberships(repo)
        return got

    def _repo_memberships(self, repo: str) -> list[str]:
        exists = not self.missing(repo)
        base2 = self.generic_name(repo)
        out: dict[str, None] = {"@all": None}
        if repo.startswith("@") or not is_repo_name(repo) or exists:
            out[repo] = None
        if base2.startswith("@"):
            out[base2] = None
        for p in self.patterns:
            if repo == p or base2 == p:
                out[p] = None
            elif (may_match(p, repo) and _anchored(p).search(repo)) or (
                base2 and may_match(p, base2) and _anchored(p).search(base2)
            ):
                out[p] = None
        if exists:
            text = _read(self.path(repo) + "/gl-repo-groups")
            if text:
                for w in text.split():
                    if GROUP_NAME_CHARS.issuperset(w):
                        out["@" + w.removeprefix("@")] = None
        for g in self.groups_of(repo):
            out[g] = None
        if base2:
            for g in self.groups_of(base2):
                out[g] = None
        for gp in self.group_patterns:
            if (may_match(gp, repo) and _anchored(gp).search(repo)) or (
                base2 and may_match(gp, base2) and _anchored(gp).search(base2)
            ):
                for g in self.groups_of(gp):
                    out[g] = None
        return list(out)

    def user_memberships(self, user: str, repo: str) -> list[str]:
        ums: dict[str, None] = {user: None, "@all": None}
        for g in self.groups_of(user):
            ums[g] = None
        if repo and not self.missing(repo):
            for r in self.user_roles(user, repo, ums):
                ums[r] = None
        return list(ums)

    def user_roles(self, user: str, repo: str, eg: dict[str, None]) -> list[str]:
        """Roles from the repo's gl-perms (``READERS u1 @g``) and ``CREATOR``, as ``@ROLE``."""
        text = _read(self.path(repo) + "/gl-perms")
        lines = text.split("\n") if text else []
        if lines and lines[-1] == "":
            lines.pop()
        lines.append("CREATOR = " + self.creator(repo))
        ret: dict[str, None] = {}
        for line in lines:
            # (gitolite also squeezes blanks here; split() below makes that a no-op)
            line = line.lstrip(" \t\n\r\f\v").rstrip(" ").replace("=", " ", 1)
            line = line.removeprefix("@")
            if line.startswith("#") or not line.strip():
                continue
            role, *members = line.split()
            if role != "CREATOR" and role not in self.roles:
                self._warn_role(role)
                continue
            for m in members:
                if is_user_name(m) and (m == user or m in eg):
                    ret["@" + role] = None
        return list(ret)

    def _warn_role(self, role: str) -> None:
        """gitolite's warning for a gl-perms role the rc's ROLES lacks (once per role): the
        line grants nothing, and the user asking may wonder why (t/perm-roles.t)."""
        if role in self._warned_roles:
            return
        self._warned_roles.add(role)
        # the file's text is not ours to echo raw: a control character would reach a terminal
        text = role if role.isascii() and role.isprintable() and len(role) <= 64 else "?"
        try:
            os.write(2, f"WARNING: role '{text}' not allowed, ignoring\n".encode())
        except OSError:  # no stderr: the answer matters, not the warning
            pass

    def rules(self, repo: str, user: str) -> list[tuple[int, str, str]]:
        """The (repo, user) rules in sequence order, memoised: a push's VREF checks ask
        once per changed file, and the rule list cannot change within one Checker."""
        got = self._rules.get((repo, user))
        if got is None:
            got = self._rules[(repo, user)] = self._collect_rules(repo, user)
        return got

    def vrefs(self, repo: str, user: str) -> list[str]:
        """gitolite's vrefs(): the distinct ``VREF/...`` refexes of the (repo, user)
        rules, in rule order (what the update hook runs after the normal check)."""
        return list(dict.fromkeys(r for _, _, r in self.rules(repo, user) if r.startswith("VREF/")))

    def _collect_rules(self, repo: str, user: str) -> list[tuple[int, str, str]]:
        rules: list[tuple[int, str, str]] = []
        ums = self.user_memberships(user, repo)
        for r in self.repo_memberships(repo):
            pl = self.payload(r)
            if pl is None:
                continue
            by_user = pl[0]
            for u in ums:
                lst = by_user.get(u)
                if lst:
                    rules.extend(lst)
        rules.sort(key=lambda t: t[0])
        return rules

    # -- configs and options ---------------------------------------------------------
    def git_config(self, repo: str, want: Any, empty_ok: bool) -> dict[str, str]:
        """gitolite's git_config(): configs of the repo's memberships, later lines win."""
        items: list[tuple[int, str, str]] = []
        for r in self.repo_memberships(repo):
            pl = self.payload(r)
            if pl is not None and pl[1]:
                items.extend(pl[1])
        items.sort(key=lambda t: t[0])
        ret: dict[str, str] = {}
        for _, k, v in items:
            if want(k):
                ret[k] = v
        if not empty_ok:
            ret = {k: v for k, v in ret.items() if perl_true(v)}
        if ret:
            creator = self.creator(repo)
            for k, v in ret.items():
                if "%GL_" in v:
                    v = v.replace("%GL_REPO", repo)
                    if creator:
                        v = v.replace("%GL_CREATOR", creator)
                    ret[k] = v
        return ret

    def option(self, repo: str, name: str) -> str:
        got = self._options.get((repo, name))
        if got is None:
            key = "gitolite-options." + name
            got = self._options[(repo, name)] = self.git_config(repo, key.__eq__, False).get(
                key, ""
            )
        return got

    # -- the check -------------------------------------------------------------------
    def access(self, repo: str, user: str, aa: str, ref: str) -> str:
        """gitolite's access(): the matching refex if allowed, else a ``... DENIED by ...`` line."""
        try:
            return self._access(repo, user, aa, ref)
        except RegexError as e:  # a refex that only breaks once USER is filled in
            raise AccessError(f"bad regex while checking '{repo}' for '{user}': {e}") from None

    def _access(self, repo: str, user: str, aa: str, ref: str) -> str:
        if not user or not is_user_name(user):
            raise AccessError(f"invalid user '{user}'")
        sanity(repo)
        if not self.hook_present(repo):
            return f"{aa} any {repo} {user} DENIED by fallthru"
        rules = self.rules(repo, user)
        deny_rules = perl_true(self.option(repo, "deny-rules"))
        if not (ref.startswith("VREF/NAME/") or is_ref(ref)):
            raise AccessError(f"invalid characters in ref or filename: '{ref}'")
        safe_ref = make_safe_ref(ref)
        if aa != "^C" and not repo.startswith("@") and is_repo_name(repo) and self.missing(repo):
            iret = self._access(repo, user, "^C", ref).replace("^C", aa, 1)
            if "DENIED" in iret:
                return iret
        if aa == "^C" and not self.missing(repo):
            return f"{aa} {safe_ref} {repo} {user} DENIED by existence"
        for _, perm, refex in rules:
            refex = refex.replace("/USER/", f"/{user}/", 1)
            if perm == "-" and ref == "any" and not deny_rules:
                continue
            if ref != "any" and not refex_matches(refex, ref):
                continue
            if perm == "-":
                return f"{aa} {safe_ref} {repo} {user} DENIED by {refex}"
            if perm_allows(aa, perm):
                return refex
        return f"{aa} {safe_ref} {repo} {user} DENIED by fallthru"

    def adjust_perm(self, repo: str, aa: str) -> str:
        """``gitolite access``'s downgrade: C/D/M count only where the repo's rules use them."""
        if aa == "C" and not perl_true(self.option(repo, "CREATE_IS_C")):
            return "W"
        if aa == "D" and not perl_true(self.option(repo, "DELETE_IS_D")):
            return "+"
        if aa == "M" and not perl_true(self.option(repo, "MERGE_CHECK")):
            return "W"
        return aa
