"""``gitolite-triggers shell USER``: the ssh forced command, the security boundary.

sshd runs it for every key (``command="<bindir>/gitolite-triggers shell USER"`` in
authorized_keys) with the client's request in ``SSH_ORIGINAL_COMMAND``. The order is
gitolite-shell's (docs/shell.md):

1. log ``ssh ARGV=<user> SOC=<command> FROM=<ip>``; parse the command (soc.py);
2. a command (``info``, ``help``, ``perms``): run it, no access triggers, no END;
3. a git verb: a missing repo the user may create (``^C``) is created (wild repo:
   PRE_CREATE, ``git init --bare`` + hooks, ``gl-creator``, POST_CREATE, ``create`` log);
4. check (1): ``access(repo, user, R|W, "any")``, then ACCESS_CHECK (and v3's ACCESS_1)
   fire with the result, also on denial; denied: ``FATAL: <result>`` and exit 1;
5. log ``pre_git``; PRE_GIT; git itself (``git upload-pack <abs path>`` etc.: argv, no
   shell, the client's stdin/stdout passed straight through); POST_GIT with the four
   CPU times of ``os.times()``; END.

Trigger programs' stdout goes to the client's stderr: our stdout is the git protocol.
Before anything else every inherited ``GL_*`` and ``GIT_*`` variable is removed (except
``GIT_PROTOCOL``, which sshd's ``AcceptEnv GIT_PROTOCOL`` passes for protocol v2): a sloppy
sshd (``AcceptEnv GL_* GIT_*``, ``PermitUserEnvironment``) must not let a client choose
the log file, the rc, the hooks' admin bypass (GL_BYPASS_ACCESS_CHECKS), the session id, or
git's repository and config (GIT_DIR, GIT_CONFIG_*, GIT_EXEC_PATH, ...). Every location
comes from HOME and the rc. GL_USER, GL_REPO and GL_TID are then exported by us for git's
hooks, which inherit this cleaned environment through git.

The session always ends with one closing log line: ``END`` (``END exit=N`` when git or
POST_GIT failed), or ``die``: a refusal, or the session ended under a trigger program or
a push's git (the client disconnected, a SIGHUP/SIGTERM), whose process groups are then
killed (runner.py, shell/gitwait.py), never left behind as orphans.

Errors: a refusal raises ``errors.Fatal``; guard.guarded prints it as one ``FATAL:`` line
and logs one ``die`` line. Anything unexpected (a broken rc included) is reported by
guarded as a generic line with the session id, the detail in the log.

Start-up matters (every fetch): the hot path's rule, docs/architecture.md.
"""

from __future__ import annotations

import os
import sys

from gitolite_triggers import glog
from gitolite_triggers.errors import Fatal
from gitolite_triggers.names import is_user_name as valid_user
from gitolite_triggers.rc import Rc, load_rc
from gitolite_triggers.shell.soc import CommandRequest, GitRequest, SocError, cut, parse, shown

LOGGED_SOC_LIMIT = 1024
KEPT_ENV = ("GIT_PROTOCOL",)


def scrub_environment() -> None:
    """Drop every inherited GL_* and GIT_* variable but GIT_PROTOCOL (see above)."""
    env = os.environ
    for key in [k for k in env if k.startswith(("GL_", "GIT_")) and k not in KEPT_ENV]:
        del env[key]


def main(argv: list[str]) -> int:
    """Run one ssh session (under guard.guarded: errors reach the client as one generic FATAL
    line with the session id, never a traceback or a server path)."""
    scrub_environment()
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        return usage(argv)
    user = argv[0]
    rc = load_rc()
    rc.apply_process_settings()
    try:
        os.chdir(os.environ.get("HOME") or "/")
    except OSError:
        pass
    soc = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    source = (os.environ.get("SSH_CONNECTION") or "local").split()[0]
    glog.log(rc, "ssh", f"ARGV={user}", f"SOC={cut(soc, LOGGED_SOC_LIMIT)}", f"FROM={source}")
    if not valid_user(user):
        raise Fatal(f"invalid user name '{shown(user)}'")
    os.environ["GL_USER"] = user
    from gitolite_triggers.shell.commands import enabled

    try:
        request = parse(soc, enabled(rc))
    except SocError as e:
        raise Fatal(str(e)) from None
    if isinstance(request, CommandRequest):
        from gitolite_triggers.shell.commands import run_command

        return run_command(rc, user, request)
    return git_session(rc, user, request)


def usage(argv: list[str]) -> int:
    """``shell --help``: the usage on stdout, exit 0; any other argument count: exit 2.

    No argparse here (see cliargs.py), and no option parsing at all: sshd gives exactly
    one argument, the user, and a name that looks like an option is refused as a name.
    """
    from gitolite_triggers.cliargs import Parser

    parser = Parser(
        "gitolite-triggers shell",
        "The ssh forced command: serve SSH_ORIGINAL_COMMAND (git-upload-pack, git-receive-pack,\n"
        "git-upload-archive, and the ssh commands the rc enables) for USER. sshd runs it from the\n"
        "authorized_keys line that ssh-authkeys writes for each key; admins never need to.",
        arguments=(("USER", "the user the key belongs to (from keydir/USER.pub)"),),
        arguments_usage="USER",
    )
    if argv in (["-h"], ["--help"]):
        print(parser.help())
        return 0
    parser.error(f"expected exactly one argument, USER (got {len(argv)})")


def _refuse_if_writes_disabled(rc: Rc, repo: str) -> None:
    """``writable REPO off`` (or ``@all off``): refuse the push with the admin's message."""
    from gitolite_triggers.shell.cmd_writable import writes_disabled

    message = writes_disabled(rc, repo)
    if message is not None:
        raise Fatal(message)


def _times() -> list[str]:
    t = os.times()
    return [f"{x:.2f}" for x in (t.user, t.system, t.children_user, t.children_system)]


def git_session(rc: Rc, user: str, req: GitRequest) -> int:
    from gitolite_triggers.repos import inside_repo_base, repo_dir

    repo = req.repo
    os.environ["GL_REPO"] = repo
    path = repo_dir(rc, repo)
    if not inside_repo_base(rc, path):
        raise Fatal(f"repo '{repo}' resolves outside the repo base; refused")
    from gitolite_triggers.conf.errors import AccessError

    try:
        return _checked_session(rc, user, req, path)
    except AccessError as e:  # bad input to the access check: gitolite's FATAL, no traceback
        raise Fatal(str(e)) from None


def _checked_session(rc: Rc, user: str, req: GitRequest, path: str) -> int:
    """The session, and its closing log line whatever happens: ``END`` (with the status
    when it is not 0), or ``die`` (a refusal: guard.guarded's line; the session ended
    under a program or git: ours, the client being gone)."""
    from gitolite_triggers.runner import SessionEnded

    try:
        status = _session(rc, user, req, path)
    except SessionEnded as e:
        _client_gone()
        glog.log(rc, "die", req.repo, user, e.message)
        return e.status
    if os.environ.get("GL_TID") == str(os.getpid()):
        glog.log(rc, "END", *([f"exit={status}"] if status else []))
    return status


def _client_gone() -> None:
    """Nobody reads our stdout and stderr any more: point them at /dev/null, so that what
    is still printed (and the interpreter's final flush) cannot fail on a broken pipe."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
    except OSError:
        pass


def _session(rc: Rc, user: str, req: GitRequest, path: str) -> int:
    from gitolite_triggers.conf.query import access, is_denied
    from gitolite_triggers.runner import Options, fire

    repo, aa, verb = req.repo, req.access, req.verb
    opts = Options(stdout_to_stderr=True)

    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise Fatal(f"repo '{repo}' is not a directory on the server")
        if not is_denied(access(rc, repo, user, "^C", "any")):
            from gitolite_triggers.shell.create import create_wild_repo

            status, created = create_wild_repo(rc, repo, user, opts)
            if created:
                glog.log(rc, "create", repo, user, aa)
            if status:
                return status

    result = access(rc, repo, user, aa, "any")
    for name in ("ACCESS_CHECK", "ACCESS_1"):
        if name == "ACCESS_1" and aa == "W" and not is_denied(result):
            _refuse_if_writes_disabled(rc, repo)  # gitolite's Writable::access_1, first in ACCESS_1
        status = fire(rc, name, repo, user, aa, "any", result, opts=opts)
        if status:
            raise Fatal(f"{name} trigger refused {aa} access to '{repo}' (exit {status})", status)
    if is_denied(result):
        raise Fatal(f"{result}\n(or you mis-spelled the reponame)")
    glog.log(rc, "pre_git", repo, user, aa, "any", result)

    status = fire(rc, "PRE_GIT", repo, user, aa, "any", verb, opts=opts)
    if status:
        raise Fatal(f"PRE_GIT trigger refused {verb} on '{repo}' (exit {status})", status)

    sys.stdout.flush()
    sys.stderr.flush()
    # `git upload-pack /abs/path.git`: an argv list, the absolute path can never be an
    # option, and our stdin/stdout (the ssh channel) go straight to git.
    # posix_spawn, not subprocess: the hot path's rule.
    argv = ["git", verb[len("git-") :], path]
    if verb == "git-receive-pack":
        from gitolite_triggers.shell.gitwait import run_push

        code = run_push(argv)  # a push runs hooks: they end with the session
    else:
        code = os.waitstatus_to_exitcode(os.waitpid(os.posix_spawnp("git", argv, os.environ), 0)[1])
    if code != 0:
        glog.log(rc, "warn", f"{verb} '{repo}' exited {code}")
        return code if code > 0 else 128 - code

    return fire(rc, "POST_GIT", repo, user, aa, "any", verb, *_times(), opts=opts)
