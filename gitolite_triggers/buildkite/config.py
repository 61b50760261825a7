"""The rc's ``buildkite`` section, per-repo overrides, and the API token.

Which pipelines a repo builds in: every ``pipelines`` entry whose ``repos`` regex matches
the whole repo name, in rc order, up to and including the first one that says
``final: true`` (fan-out: a monorepo can drive several pipelines, each with its own
branch/tag filters and its own build). Then the repo's rules may override them
(``option buildkite.pipeline = ORG/PIPELINE`` makes it that one pipeline,
``option buildkite.branches = PATTERNS`` and ``option buildkite.tags = 1|0|PATTERNS``
apply to each) or turn them off (``option buildkite.enabled = 0``). Option values are
read with ``bkoptions``, the check the conf compiler applies.
Imported on the push path: standard library only (plus re2, through linear_re, once a
pipeline's ``repos`` regex must run).
"""

from __future__ import annotations

import os
import stat

from gitolite_triggers import linear_re
from gitolite_triggers.paths import expand
from gitolite_triggers.rc import Rc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_API_URL = "https://api.buildkite.com/v2"
TOKEN_ENV = "BUILDKITE_API_TOKEN"
DELIVERY_KEY = "gitolite_triggers_delivery_id"


class Settings:
    """Delivery settings (everything except the per-repo pipeline choice).

    The class attributes are the defaults; keyword arguments override them.
    """

    api_url: str = DEFAULT_API_URL
    token_file: str | None = None
    spool_dir: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    initial_delay: float = 2.0
    max_delay: float = 300.0
    give_up_after: float = 86400.0
    max_rate_limit_wait: float = 600.0
    poll_interval: float = 1.0
    commit_grace: float = 60.0
    keep_done_days: float = 30.0
    start_delay: float = 0.0
    feedback_wait: float = 0.0

    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            if not hasattr(Settings, key) or key.startswith("_"):
                raise TypeError(f"unknown buildkite setting {key!r}")
            setattr(self, key, value)


class Target:
    """Where and how one repo builds."""

    def __init__(
        self,
        org: str,
        pipeline: str,
        branches: list[str] | None = None,
        tags: bool | list[str] = False,
        env: dict[str, str] | None = None,
        meta_data: dict[str, str] | None = None,
        clean_checkout: bool = False,
        ignore_pipeline_branch_filters: bool = False,
        push_variables: bool = False,
        final: bool = False,
    ) -> None:
        self.org = org
        self.pipeline = pipeline
        self.branches: list[str] = branches or []  # globs; empty = all branches
        self.tags = tags
        self.env: dict[str, str] = env or {}
        self.meta_data: dict[str, str] = meta_data or {}
        self.clean_checkout = clean_checkout
        self.ignore_pipeline_branch_filters = ignore_pipeline_branch_filters
        self.push_variables = push_variables  # `git push -o ci.variable=K=V` reaches env
        self.final = final

    @property
    def name(self) -> str:
        """``org/pipeline``, as the pusher and the log see it."""
        return f"{self.org}/{self.pipeline}"

    def __repr__(self) -> str:
        return f"Target({self.org}/{self.pipeline}, branches={self.branches!r}, tags={self.tags!r})"

    def wants(self, ref: str) -> str | None:
        """The Buildkite ``branch`` for ``ref``, or None when this ref must not build."""
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/") :]
            return name if name and match_globs(self.branches, name) else None
        if ref.startswith("refs/tags/"):
            name = ref[len("refs/tags/") :]
            if self.tags is True or (
                isinstance(self.tags, list) and self.tags and match_globs(self.tags, name)
            ):
                return name or None
        return None


def match_globs(patterns: list[str], name: str) -> bool:
    """Buildkite-style filter: globs (``*`` crosses ``/``), ``!glob`` excludes; empty = all."""
    if not patterns:
        return True
    import fnmatch

    if any(fnmatch.fnmatchcase(name, p[1:]) for p in patterns if p.startswith("!")):
        return False
    positives = [p for p in patterns if not p.startswith("!")]
    return not positives or any(fnmatch.fnmatchcase(name, p) for p in positives)


def _split_patterns(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return value.replace(",", " ").split()


def settings(rc: Rc) -> Settings:
    bk = rc.buildkite
    retry = bk.get("retry") or {}
    s = Settings(
        api_url=str(bk.get("api_url") or DEFAULT_API_URL).rstrip("/"),
        token_file=expand(bk["token_file"]) if bk.get("token_file") else None,
        spool_dir=expand(bk["spool_dir"])
        if bk.get("spool_dir")
        else os.path.join(rc.admin_base, "buildkite"),
    )
    for key in (
        "connect_timeout",
        "read_timeout",
        "max_rate_limit_wait",
        "poll_interval",
        "commit_grace",
        "keep_done_days",
        "start_delay",
        "feedback_wait",
    ):
        if bk.get(key) is not None:
            setattr(s, key, float(bk[key]))
    for key in ("initial_delay", "max_delay", "give_up_after"):
        if retry.get(key) is not None:
            setattr(s, key, float(retry[key]))
    return s


def configured(rc: Rc) -> bool:
    """True when the rc names any pipeline (per-repo options can still add one)."""
    return bool(rc.buildkite.get("pipelines"))


def _target_from(entry: dict[str, Any]) -> Target:
    tags = entry.get("tags", False)
    return Target(
        org=str(entry.get("org", "")),
        pipeline=str(entry.get("pipeline", "")),
        branches=_split_patterns(entry.get("branches")),
        tags=_split_patterns(tags) if isinstance(tags, list | str) else bool(tags),
        env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
        meta_data={str(k): str(v) for k, v in (entry.get("meta_data") or {}).items()},
        clean_checkout=bool(entry.get("clean_checkout", False)),
        ignore_pipeline_branch_filters=bool(entry.get("ignore_pipeline_branch_filters", False)),
        push_variables=bool(entry.get("push_variables", False)),
        final=bool(entry.get("final", False)),
    )


def _disabled(value: str) -> bool:
    from gitolite_triggers import bkoptions

    return value.strip().lower() in bkoptions.FALSE_WORDS


def target_for(rc: Rc, repo: str, options: dict[str, str] | None = None) -> Target | None:
    """The repo's first build target (``targets_for``), or None when it does not build."""
    targets, _ = targets_for(rc, repo, options)
    return targets[0] if targets else None


def targets_for(
    rc: Rc, repo: str, options: dict[str, str] | None = None
) -> tuple[list[Target], str]:
    """The repo's build targets after the rules' overrides, and why there are none if so.

    The reason ("disabled", "no pipeline", "bad option ...") is for the one log line a
    push without a build gets. ``options`` (for tests) replaces the repo's option lookup.
    """
    from gitolite_triggers import bkoptions  # a push's, never a fetch's (its module stays out)

    fetched = options is None
    if options is None:
        from gitolite_triggers.conf.query import options_for

        options = options_for(rc, repo)
    for key, value in options.items():
        if key.startswith(bkoptions.PREFIX):
            # compiled before the conf check existed: never guess, say so
            why = bkoptions.problem(key, value)
            if why:
                return [], f"bad option: {why}"
    if _disabled(options.get("buildkite.enabled", "1")):
        return [], "disabled (option buildkite.enabled)"
    targets: list[Target] = []
    for entry in rc.buildkite.get("pipelines") or []:
        # linear_re: the repo name may be a user's wild repo, so a backtracking match
        # could hold every push for minutes; re2 is imported only here, on first use
        try:
            if linear_re.compile(str(entry.get("repos", ""))).fullmatch(repo):
                targets.append(_target_from(entry))
                if targets[-1].final:
                    break
        except linear_re.RegexError:
            continue  # `rc check` and `buildkite check` report it; never break a push over one
    override = options.get("buildkite.pipeline")
    if override:
        pair = bkoptions.split_pipeline(override)
        if pair is None:  # unreachable after the check above; kept for the type
            return [], "bad option: buildkite.pipeline"
        target = targets[0] if targets else Target(*pair)
        target.org, target.pipeline = pair
        targets = [target]
    if not targets:
        return [], "no pipeline"
    if fetched and "buildkite.enabled" not in options:
        # options_for follows gitolite ("0" is unset), which would make
        # `option buildkite.enabled = 0` a no-op: this switch is read as written.
        from gitolite_triggers.conf.query import option_raw

        if _disabled(option_raw(rc, repo, "buildkite.enabled") or "1"):
            return [], "disabled (option buildkite.enabled)"
    for target in targets:
        if "buildkite.branches" in options:
            target.branches = bkoptions.split_patterns(options["buildkite.branches"])
        if "buildkite.tags" in options:
            value = options["buildkite.tags"].strip()
            low = value.lower()
            target.tags = (
                True
                if low in bkoptions.TRUE_WORDS
                else False
                if low in ("", *bkoptions.FALSE_WORDS)
                else bkoptions.split_patterns(value)
            )
    return targets, ""


def option_problems(rc: Rc) -> list[str]:
    """``option buildkite.*`` problems in the compiled rules, one line per repo and option.

    compile refuses them now; rules compiled by an older version may still hold some
    (``buildkite check`` lists them)."""
    from gitolite_triggers import bkoptions
    from gitolite_triggers.conf.errors import StoreError
    from gitolite_triggers.conf.query import conf_repos, option_raw, options_for

    out: list[str] = []
    try:
        repos = conf_repos(rc)
    except (StoreError, OSError):
        return []  # not compiled yet: nothing to check
    for repo in repos:
        opts = options_for(rc, repo)
        raw = option_raw(rc, repo, "buildkite.enabled")
        if raw is not None:
            opts["buildkite.enabled"] = raw
        for key, value in sorted(opts.items()):
            if key.startswith(bkoptions.PREFIX):
                why = bkoptions.problem(key, value)
                if why:
                    out.append(f"repo {repo}: {why}")
    return out


class TokenError(Exception):
    """No usable token; the message says why (and never contains the token)."""


def load_token(s: Settings) -> str:
    """The API token: from ``token_file`` (must be mode 0600 or stricter), else the env."""
    if s.token_file:
        try:
            fd = os.open(s.token_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            raise TokenError(f"cannot read token_file {s.token_file}: {e.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise TokenError(f"token_file {s.token_file} is not a regular file")
            if st.st_mode & 0o077:
                raise TokenError(
                    f"token_file {s.token_file} has mode {stat.S_IMODE(st.st_mode):04o}; it must be readable"
                    f" by its owner only (chmod 600 {s.token_file}), refusing to use it"
                )
            if st.st_uid != os.getuid():
                raise TokenError(
                    f"token_file {s.token_file} is not owned by this account (uid {os.getuid()})"
                )
            token = os.read(fd, 4096).decode("utf-8", "replace").strip()
        finally:
            os.close(fd)
        if not token:
            raise TokenError(f"token_file {s.token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise TokenError(
            f"no API token: set buildkite.token_file in the rc, or {TOKEN_ENV} in the server account's environment"
        )
    return token
