"""``gitolite setup|compile|trigger|print-default-rc``: gitolite's spelling of the account's commands.

Each translates gitolite's options into ours and runs our command, so there is one
implementation of setup and compile (commands/). ``trigger`` keeps gitolite's refusal text
for an unknown section.
"""

from __future__ import annotations

import sys

from gitolite_triggers.errors import Fatal

SETUP_USAGE = """\
Usage:  gitolite setup [<option>]

Set up gitolite-triggers for this account, or repair it (re-run at any time).

    -pk, --pubkey <file>    the admin's public key (first install, or to replace it)
    -a, --admin <name>      the admin's name without a key (first install)
    -ho, --hooks-only       only re-link the hooks in every repo
    -m, --message <text>    commit message for the admin repo
"""

# gitolite's option spellings -> gitolite-triggers setup's
SETUP_FLAGS = {
    "-pk": "--pubkey",
    "--pubkey": "--pubkey",
    "-a": "-a",
    "--admin": "-a",
    "-ho": "--hooks-only",
    "--hooks-only": "--hooks-only",
    "-m": "-m",
    "--message": "-m",
}


def main(name: str, argv: list[str]) -> int:
    if name == "setup":
        return setup(argv)
    if name == "compile":
        from gitolite_triggers.commands import compile_cmd

        return compile_cmd.main(argv)
    if name == "trigger":
        return trigger(argv)
    if name == "compile-template-data":
        return compile_template_data(argv)
    return print_default_rc(argv)


def compile_template_data(argv: list[str]) -> int:
    """gitolite's ``compile-template-data``: rewrite the template repos' gl-perms and
    gl-repo-groups from the conf (``compile`` does it too, at its end)."""
    if argv:
        raise Fatal("usage: gitolite compile-template-data")
    from gitolite_triggers.conf.templates import compile_template_data as apply_templates
    from gitolite_triggers.rc import load_rc

    apply_templates(load_rc())
    return 0


def setup(argv: list[str]) -> int:
    """Translate gitolite's ``setup`` options (``-pk``, ``-a``, ``-ho``, ``-m``) and run ours."""
    ours: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in ("-h", "--help"):
            sys.stdout.write(SETUP_USAGE)
            return 1
        flag = SETUP_FLAGS.get(word)
        if flag is None:
            sys.stderr.write(SETUP_USAGE)
            return 1
        ours.append(flag)
        if flag != "--hooks-only":
            if not words:
                sys.stderr.write(SETUP_USAGE)
                return 1
            ours.append(words.pop(0))
    from gitolite_triggers.commands import setup_cmd

    return setup_cmd.main(ours)  # which links ~/bin/gitolite (onpath.py)


def trigger(argv: list[str]) -> int:
    """``gitolite trigger SECTION [ARGS...]``: fire the section, exit with its status."""
    from gitolite_triggers.rc import load_rc
    from gitolite_triggers.runner import fire

    if not argv:
        raise Fatal("trigger section '' not found in rc")
    section, args = argv[0], argv[1:]
    rc = load_rc()
    if section not in rc.fireable():
        raise Fatal(f"trigger section '{section}' not found in rc")
    rc.apply_process_settings()
    return fire(rc, section, *args)


def print_default_rc(argv: list[str]) -> int:
    """The commented rc that ``setup`` writes for a new account (ours is YAML, not Perl)."""
    from gitolite_triggers.commands.setup_cmd import STARTER_RC

    sys.stdout.write(STARTER_RC)
    return 0
