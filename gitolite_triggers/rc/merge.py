"""Merge the main rc and its rc.d fragments into one effective rc (plain JSON-able data).

The rules (docs/rc.md says the same to admins):

- files are read in order: the main rc first, then ``rc.d/*.yaml`` in lexical order;
- a setting (scalar or list, e.g. ``UMASK`` or ``ROLES``) in a later file overrides an
  earlier one; mapping settings (``buildkite``) merge key by key, recursively;
- a trigger list (and each ``hooks:`` list) appends its entries to what earlier files
  built, in file order;
- in a list, ``{remove: X}`` drops every inherited entry whose program (or whole entry
  string) is X (``remove: "*"`` drops them all), and ``{replace: X, with: ENTRY}`` puts
  ENTRY in place of each such entry. A remove/replace that matches nothing warns.
"""

from __future__ import annotations

from typing import Any

from gitolite_triggers.paths import expand
from gitolite_triggers.rc.validate import TRIGGER_SHAPE
from gitolite_triggers.rc.yamlpos import Loaded

HOOK_NAMES = ("pre-receive", "update", "post-receive", "post-update")

DEFAULTS: dict[str, Any] = {
    "GL_REPO_BASE": "~/repositories",
    "GL_ADMIN_BASE": "~/.gitolite",
    "LOCAL_CODE": None,
    "UMASK": 0o077,
    "GIT_CONFIG_KEYS": "",
    "LOG_TEMPLATE": None,  # None: <GL_ADMIN_BASE>/logs/gitolite-%y-%m.log
    "ROLES": ["READERS", "WRITERS"],
    "AUTH_OPTIONS": "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty",
    "KEYS_IN_AUTHORIZED_KEYS": True,  # False: sshd finds our keys through the key index only
    "GITWEB_PROJECTS_LIST": "~/projects.list",
    "SITE_INFO": None,
    "HOSTNAME": None,  # replaces %HOSTNAME in gitolite.conf (conf/parse.py)
    # the ssh commands users may run: gitolite's default ENABLE'd set (docs/shell.md)
    "COMMANDS": ["help", "desc", "info", "perms", "writable", "builds", "build"],
    "D_DISABLE_RM": False,
    "TRASH_CAN": "Trash",
    "TRASH_SUFFIX": None,  # None: the time, %Y-%m-%d_%H:%M:%S
    "WRITER_CAN_UPDATE_DESC": False,
    "TRIGGER_TIMEOUTS": None,  # merged over DEFAULT_TRIGGER_TIMEOUTS, key by key
    "buildkite": {},
}
# A program with no ``timeout`` of its own gets its trigger's figure here (0: none).
# Everything but POST_COMPILE runs while a client waits on an open connection (a guard
# answers in milliseconds; a notifier in seconds), so a minute ends a hang long before
# anyone would, and each hung session holds an sshd and two processes meanwhile.
# POST_COMPILE runs after an admin push or by hand: ssh-authkeys at 100,000 keys takes
# ~5 s, a site's mirroring or gitweb rebuild can take minutes, so five.
DEFAULT_TRIGGER_TIMEOUTS: dict[str, float] = {"default": 60, "POST_COMPILE": 300}
PATH_SETTINGS = (
    "GL_REPO_BASE",
    "GL_ADMIN_BASE",
    "LOCAL_CODE",
    "LOG_TEMPLATE",
    "GITWEB_PROJECTS_LIST",
)


def entry_from(item: Any, source: str) -> dict[str, Any]:
    """Normalise one trigger entry (string or mapping) into the runner's form."""
    if isinstance(item, str):
        words = item.split()
        return {
            "program": words[0],
            "args": words[1:],
            "timeout": None,
            "on_failure": "abort",
            "source": source,
            "text": " ".join(words),
        }
    args = [_argstr(a) for a in item.get("args") or []]
    return {
        "program": item["program"],
        "args": args,
        "timeout": item.get("timeout"),
        "on_failure": item.get("on_failure", "abort"),
        "source": source,
        "text": " ".join([item["program"], *args]),
    }


def _argstr(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _matches(entry: dict[str, Any], selector: str) -> bool:
    return (
        selector == "*"
        or entry["program"] == selector
        or entry["text"] == " ".join(selector.split())
    )


def _apply_list(
    current: list[dict[str, Any]],
    items: list[Any] | None,
    loaded: Loaded,
    path: tuple[Any, ...],
    warnings: list[str],
) -> list[dict[str, Any]]:
    result = list(current)
    for i, item in enumerate(items or []):
        line, col = loaded.where(path + (i,))
        source = f"{loaded.path}:{line}"
        if isinstance(item, dict) and "remove" in item:
            kept = [e for e in result if not _matches(e, item["remove"])]
            if len(kept) == len(result):
                warnings.append(
                    f"{loaded.path}:{line}:{col}: remove {item['remove']!r} matched no inherited entry"
                )
            result = kept
        elif isinstance(item, dict) and "replace" in item:
            new = entry_from(item["with"], source)
            hit = False
            for j, e in enumerate(result):
                if _matches(e, item["replace"]):
                    result[j] = new
                    hit = True
            if not hit:
                warnings.append(
                    f"{loaded.path}:{line}:{col}: replace {item['replace']!r} matched no inherited entry"
                )
        else:
            result.append(entry_from(item, source))
    return result


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def merge(files: list[Loaded]) -> dict[str, Any]:
    """Build the effective rc from already-validated files, in order."""
    settings: dict[str, Any] = {}
    triggers: dict[str, list[dict[str, Any]]] = {}
    hooks: dict[str, list[dict[str, Any]]] = {name: [] for name in HOOK_NAMES}
    warnings: list[str] = []
    for loaded in files:
        for key, value in loaded.data.items():
            if key == "hooks":
                for hook, items in (value or {}).items():
                    hooks[hook] = _apply_list(hooks[hook], items, loaded, ("hooks", hook), warnings)
            elif key in DEFAULTS:
                if isinstance(value, dict) and isinstance(settings.get(key), dict):
                    settings[key] = _deep_merge(settings[key], value)
                else:
                    settings[key] = value
            elif TRIGGER_SHAPE.match(key):
                triggers[key] = _apply_list(triggers.get(key, []), value, loaded, (key,), warnings)
    return {
        "settings": finish_settings(settings),
        "triggers": triggers,
        "hooks": hooks,
        "warnings": warnings,
    }


def finish_settings(given: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults, expand paths, and turn UMASK into an int."""
    s = {**DEFAULTS, **given}
    if s["buildkite"] is None:
        s["buildkite"] = {}
    s["TRIGGER_TIMEOUTS"] = {**DEFAULT_TRIGGER_TIMEOUTS, **(s["TRIGGER_TIMEOUTS"] or {})}
    for key in PATH_SETTINGS:
        if isinstance(s.get(key), str):
            s[key] = expand(s[key])
    if s["LOG_TEMPLATE"] is None:
        s["LOG_TEMPLATE"] = s["GL_ADMIN_BASE"] + "/logs/gitolite-%y-%m.log"
    umask = s["UMASK"]
    s["UMASK"] = int(umask, 8) if isinstance(umask, str) else int(umask)
    return s
