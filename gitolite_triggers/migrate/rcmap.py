"""A gitolite v3 ``%RC`` (as data, from ``perlrc``) into our rc, and what cannot come along.

What carries over:

- a setting our schema knows under the same name (UMASK, GIT_CONFIG_KEYS, LOCAL_CODE,
  GL_REPO_BASE, GL_ADMIN_BASE, GITWEB_PROJECTS_LIST, SITE_INFO, AUTH_OPTIONS, and any
  later addition such as HOSTNAME or COMMANDS), converted where the form differs
  (UMASK becomes its octal text, ROLES a hash becomes a list of names);
- the ENABLE'd features our shipped POST_COMPILE/POST_CREATE lists provide
  (ssh-authkeys, git-config, gitweb, daemon); one NOT enabled is removed from our lists;
  ``set-default-roles`` and ``create-with-reference`` ENABLE'd add our built-ins of
  those names (POST_CREATE; POST_COMPILE too for the second);
- ENABLE'd commands: into COMMANDS (all of them, and only them: a command not enabled
  is refused, as in gitolite) when our schema has that key; without it, help, info and
  perms are always on and the others are reported;
- trigger-list entries naming a program we can resolve (LOCAL_CODE/triggers or a
  built-in of the same name), in the same list (ACCESS_1 and ACCESS_2 are our names too).

Everything else is reported by name with what it means for the site (``Note``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

# ENABLE'd features whose programs our shipped rc.d/10-defaults.yaml lists.
SHIPPED_FEATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "ssh-authkeys": (("POST_COMPILE", "post-compile/ssh-authkeys"),),
    "git-config": (
        ("POST_COMPILE", "post-compile/update-git-configs"),
        ("POST_CREATE", "post-compile/update-git-configs"),
    ),
    "gitweb": (
        ("POST_COMPILE", "post-compile/update-gitweb-access-list"),
        ("POST_CREATE", "post-compile/update-gitweb-access-list"),
    ),
    "daemon": (
        ("POST_COMPILE", "post-compile/update-git-daemon-access-list"),
        ("POST_CREATE", "post-compile/update-git-daemon-access-list"),
    ),
}
SHIPPED_PROGRAMS = {prog for pairs in SHIPPED_FEATURES.values() for _, prog in pairs}
# ENABLE'd features whose program is one of our built-ins but not in our shipped lists:
# an import adds it where gitolite's ENABLE puts it.
ADDED_FEATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "set-default-roles": (("POST_CREATE", "set-default-roles"),),
    "partial-copy": (("PRE_GIT", "partial-copy"),),
    "create-with-reference": (
        ("POST_COMPILE", "post-compile/create-with-reference"),
        ("POST_CREATE", "post-compile/create-with-reference"),
    ),
}

ALWAYS_ON_COMMANDS = ("help", "info", "perms")
# Ours, with no gitolite counterpart an ENABLE list could name: kept on after an import
# (each checks the user's rights itself; docs/buildkite.md).
OUR_COMMANDS = ("builds", "build")

# gitolite's non-core features that have no equivalent here, and what that means.
FEATURE_MEANINGS: dict[str, str] = {
    "continuation-lines": "conf lines ending in '\\' are not joined; write each rule on one line",
    "macros": "conf macros are not expanded; a conf that uses them fails to compile",
    "keysubdirs-as-groups": "keydir sub-folder names do not become groups; name the groups in the conf",
    "refex-expr": "refex expressions (VREF/... with 'and'/'not') are not evaluated",
    "renice": "git processes are not reniced",
    "Kindergarten": "no beginner-mode restrictions (they were off by default in gitolite too)",
    "CpuTime": "no CPU-time lines in the log from gitolite's module (POST_GIT gets CPU times here)",
    "Shell": "shell users (ssh-authkeys-shell-users) get no shell; they are gitolite users only",
    "Alias": "repo aliases are not resolved: clients must use the real repo names",
    "Motd": "no message of the day is shown",
    "Mirroring": "no mirroring: a slave/copy setup must be re-created with triggers",
    "expand-deny-messages": "denials use the short gitolite text, without the expanded explanation",
    "RepoUmask": "per-repo umask options are ignored; the rc UMASK applies to every repo",
    "upstream": "upstream-tracking repos are not fetched before a read",
    "no-create-on-read": "a wild repo is still created by a read (clone/fetch) of a user with C",
    "no-auto-create": "a wild repo is still created on first access by a user with C",
    "ssh-authkeys-split": "keys holding several lines are not split; put one key per file",
    "cgit": "no cgit description files are written",
}

# gitolite settings with no equivalent here, and what that means.
SETTING_MEANINGS: dict[str, str] = {
    "LOG_EXTRA": "gitolite's extra per-request log lines are not written; our log has its own fixed lines",
    "LOG_DEST": "the log goes to the LOG_TEMPLATE file only (no syslog, no repo-log)",
    "LOG_FACILITY": "nothing is sent to syslog",
    "DISPLAY_CPU_TIMES": "CPU times are not printed to the client",
    "CACHE": "compiled rules are not cached in redis; our store is read directly",
    "CACHE_TTL": "compiled rules are not cached in redis",
    "SAFE_CONFIG": "%NAME substitutions in config values are not available",
    "UNSAFE_PATT": "the characters refused in config values are ours (docs/conf.md)",
    "WRITER_CAN_UPDATE_DESC": "only the repo owner may change a description",
    "OWNER_ROLENAME": "no role name stands for the repo's creator besides CREATOR",
    "DEFAULT_ROLE_PERMS": "new wild repos start with empty gl-perms (no default roles from the rc)",
    "EXPAND_GROUPS_IN_CONFIG": "@group in config values is not expanded",
    "NON_CORE": "custom non-core specs are ignored",
    "HTTP_ANON_USER": "no smart-http support: http users are not mapped",
    "SHELL_USERS_LIST": "shell users get no shell access",
    "GL_NO_CREATE_REPOS": "repos named in the conf are created by compile",
    "GL_NO_SETUP_AUTHKEYS": "authorized_keys is written (remove post-compile/ssh-authkeys to stop it)",
    "REPO_UMASK": "per-repo umask is not supported",
    "BIG_INFO_CAP": "info lists every repo it may show",
    "HOSTNAME": "%HOSTNAME in the conf is not replaced",
    "SSH_AUTHKEYS_SPLIT": "keys holding several lines are not split",
}

REPO_HOOKS_WITHOUT_LOCAL_CODE = (
    "the rc sets no LOCAL_CODE, so there is no LOCAL_CODE/hooks/repo-specific/ to run hooks from;"
    " conf 'option hook.*' lines do nothing until LOCAL_CODE is set and that folder exists"
)

# gitolite's own ssh commands that have no counterpart here, and what that means.
COMMAND_MEANINGS: dict[str, str] = {
    "mirror": "mirroring commands; no mirroring here",
    "readme": "users cannot read or write a repo's README.html",
    "sskm": "users cannot manage their own ssh keys; the admin adds keys in keydir/",
    "lock": "no file locking (git-annex/lfs style) for binary files",
    "ukm": "users cannot manage keys; the admin adds keys in keydir/",
    "htpasswd": "no http passwords are set (smart-http is not supported)",
    "git-annex-shell": "git-annex is not served",
    "who-pushed": "users cannot ask who pushed a commit (the log still records pushes)",
    "config": "users cannot set a wild repo's config keys over ssh",
}


def _missing_command(name: str) -> str:
    why = COMMAND_MEANINGS.get(name, "")
    tail = f" ({why})" if why else ""
    return (
        f"the ssh command '{name}' is neither built in nor in LOCAL_CODE/commands; users who"
        f" run it are refused{tail}"
    )


TRIGGER_LISTS = (
    "INPUT",
    "ACCESS_1",
    "ACCESS_2",
    "PRE_GIT",
    "POST_GIT",
    "PRE_CREATE",
    "POST_CREATE",
    "POST_COMPILE",
)


class Note(NamedTuple):
    """One thing the import could not carry over: its name and what it means for the site."""

    name: str
    meaning: str


class Imported(NamedTuple):
    """The import's result: rc settings, trigger lists (our merge syntax), notes."""

    settings: dict[str, Any]
    triggers: dict[str, Any]
    carried: list[str]
    notes: list[Note]


def _octal(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return f"{value:04o}"
    if isinstance(value, str) and value.strip().isdigit():
        return _octal(int(value.strip(), 8))
    return None


def _setting(key: str, value: Any) -> tuple[bool, Any]:
    """(convertible, value in our rc's form)."""
    if key == "UMASK":
        text = _octal(value)
        return text is not None, text
    if key == "ROLES":
        if isinstance(value, dict):
            return True, sorted(k for k, v in value.items() if v)
        return isinstance(value, list), value
    if key == "COMMANDS" and isinstance(value, dict):
        return True, sorted(k for k, v in value.items() if v)
    return True, value


def map_rc(
    rc: dict[str, Any],
    schema_keys: set[str],
    resolvable: Any,
    command_available: Any = None,
) -> Imported:
    """Map ``rc`` (gitolite's %RC) onto our rc.

    ``schema_keys`` are the top-level settings our rc schema accepts; ``resolvable(program,
    local_code)`` says whether our runner can find a program of that name;
    ``command_available(name, local_code)`` whether an ssh command of that name exists here
    (a built-in or LOCAL_CODE/commands/NAME; None: not checked). An ENABLE'd command that
    does not exist is named, and left out of COMMANDS.
    """
    settings: dict[str, Any] = {}
    triggers: dict[str, Any] = {}
    carried: list[str] = []
    notes: list[Note] = []
    enable = [str(e) for e in rc.get("ENABLE") or [] if isinstance(e, str)]
    names = [e.split()[0] for e in enable if e.split()]
    for key in sorted(rc):
        value = rc[key]
        if key == "ENABLE" or key in TRIGGER_LISTS:
            continue
        if key in schema_keys and key not in ("hooks", "buildkite"):
            ok, converted = _setting(key, value)
            if ok:
                settings[key] = converted
                carried.append(key)
                continue
            notes.append(
                Note(key, f"its value {value!r} has no equivalent here; the default applies")
            )
            continue
        meaning = (
            SETTING_MEANINGS.get(key) or "a gitolite setting with no equivalent here; it is ignored"
        )
        notes.append(Note(key, meaning))

    explicit = {
        str(item).split()[0]
        for lst in TRIGGER_LISTS
        for item in (rc.get(lst) or [])
        if isinstance(item, str) and item.split()
    }
    # ENABLE: features and commands
    commands: list[str] = []
    local_code = rc.get("LOCAL_CODE") if isinstance(rc.get("LOCAL_CODE"), str) else None
    for name, entry in zip(names, enable, strict=True):
        if name in SHIPPED_FEATURES:
            carried.append(f"ENABLE {name}")
        elif name in ADDED_FEATURES:
            for where, program in ADDED_FEATURES[name]:
                if program not in explicit:  # else the rc's own list carries it below
                    triggers.setdefault(where, []).append(program)
            lists = ", ".join(f"{where}: {program}" for where, program in ADDED_FEATURES[name])
            carried.append(f"ENABLE {name} ({lists})")
        elif name == "repo-specific-hooks":
            if local_code:  # on while LOCAL_CODE/hooks/repo-specific/ exists (repohooks.py)
                carried.append(f"ENABLE {name} (on while LOCAL_CODE/hooks/repo-specific/ exists)")
            else:
                notes.append(Note(f"ENABLE {name}", REPO_HOOKS_WITHOUT_LOCAL_CODE))
        elif name in FEATURE_MEANINGS:
            notes.append(Note(f"ENABLE {name}", FEATURE_MEANINGS[name]))
        elif command_available is not None and not command_available(name, local_code):
            notes.append(Note(f"ENABLE {name}", _missing_command(name)))
        elif "COMMANDS" in schema_keys:  # the rc's COMMANDS gates every command, as ENABLE does
            commands.append(entry)
            carried.append(f"ENABLE {name}")
        elif name in ALWAYS_ON_COMMANDS:
            carried.append(f"ENABLE {name}")
        else:
            notes.append(
                Note(
                    f"ENABLE {name}",
                    f"the ssh command '{name}' is not available; users who run it are refused",
                )
            )
    if commands or ("COMMANDS" in schema_keys and "ENABLE" in rc):
        given = settings.get("COMMANDS")
        merged = list(given) if isinstance(given, list) else []
        merged.extend(c.split()[0] for c in commands if c.split()[0] not in merged)
        merged.extend(c for c in OUR_COMMANDS if c not in merged)
        settings["COMMANDS"] = merged
    for feature, pairs in SHIPPED_FEATURES.items():
        if feature in names:
            continue
        for where, program in pairs:
            if program in explicit:
                continue
            triggers.setdefault(where, []).append({"remove": program})

    local_code = settings.get("LOCAL_CODE") if isinstance(settings.get("LOCAL_CODE"), str) else None
    for lst in TRIGGER_LISTS:
        items = rc.get(lst)
        if items is None:
            continue
        if not isinstance(items, list):
            notes.append(Note(lst, "not a list; ignored"))
            continue
        for item in items:
            text = str(item).strip()
            program = text.split()[0] if text.split() else ""
            label = f"{lst}: {text}"
            if not program:
                continue
            if program in SHIPPED_PROGRAMS:
                carried.append(label)  # our shipped lists run it already
                continue
            if lst == "INPUT":
                notes.append(
                    Note(
                        label,
                        "INPUT programs rewrite the request inside gitolite; the request is used as sent",
                    )
                )
                continue
            if "::" in program:
                notes.append(
                    Note(
                        label,
                        "a Perl module function, run inside gitolite; nothing runs in its place",
                    )
                )
                continue
            if resolvable(program, local_code):
                triggers.setdefault(lst, []).append(text)
                carried.append(label)
            else:
                notes.append(
                    Note(
                        label,
                        f"no program '{program}' in LOCAL_CODE/triggers or among ours; it is not run",
                    )
                )
    unique = list(dict.fromkeys(notes))  # an ENABLE entry given twice (e.g. Shell) is named once
    return Imported(settings, triggers, carried, unique)
