# The harness (run.py) writes this file as src/gitolite and src/gitolite-shell of an exported
# gitolite tree, with BINDIR (where `gitolite-triggers` is) and ROLE (which of the two) set
# above this line. Standard library only: it runs as the throwaway test account.
"""Thin stand-ins for gitolite's two programs, calling gitolite-triggers.

- ``gitolite-shell USER`` (run by t/glt and t/gitolite-{upload,receive}-pack with
  SSH_ORIGINAL_COMMAND set): prints the two TRACE lines gitolite's shell prints in test mode
  for a git command (the suite's ``gsh`` check looks for them), then execs
  ``gitolite-triggers shell USER``.
- ``gitolite SUBCOMMAND ...``: ``setup`` writes gitolite's default Perl rc first when there
  is none (the t/ files edit that file), then ``gitolite-triggers setup``; the rest goes to a
  ``gitolite`` script beside gitolite-triggers when one is installed, else to the nearest
  ``gitolite-triggers`` sub-command.

Before either, the Perl rc (and ``$G3T_RC``, the suite's override file) is imported again
with ``gitolite-triggers rc import`` when it changed since the last import: one ``stat``
per call when nothing changed.
"""

import os
import sys
import time

HOME = os.environ["HOME"]
PERL_RC = os.path.join(HOME, ".gitolite.rc")
STAMP = os.path.join(HOME, ".gitolite.rc.import-stamp")
GT = os.path.join(BINDIR, "gitolite-triggers")  # type: ignore[name-defined]  # noqa: F821
SRC = os.path.dirname(os.path.realpath(__file__))  # ~/bin/gitolite is a link (install -ln)


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{path}:{st.st_mtime_ns}:{st.st_size}"


def reimport():
    """Import the Perl rc again if it (or G3T_RC) changed since the last import."""
    if not os.path.exists(PERL_RC):
        return
    g3t = os.environ.get("G3T_RC", "")
    extra = [g3t] if g3t and os.access(g3t, os.R_OK) else []
    stamp = "|".join([_stat(PERL_RC), *(_stat(p) for p in extra)])
    try:
        with open(STAMP) as f:
            if f.read() == stamp:
                return
    except OSError:
        pass
    argv = [GT, "rc", "import", "-q", PERL_RC]
    for p in extra:
        argv += ["--also", p]
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)  # the suite matches on output; notes about unsupported keys are noise
        os.execv(GT, argv)
    _, status = os.waitpid(pid, 0)
    if status == 0:
        with open(STAMP, "w") as f:
            f.write(stamp)


def run(argv):
    os.execv(GT, [GT, *argv])


def shell():
    user = sys.argv[1] if len(sys.argv) > 1 else ""
    soc = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    if "git-" in soc and "-pack" in soc:
        sys.stderr.write(f"TRACE: gsh({user})\nTRACE: gsh(SOC={soc})\n")
        sys.stderr.flush()
    reimport()
    run(["shell", user])


def setup(args):
    if not os.path.exists(PERL_RC):
        with open(os.path.join(SRC, "default.rc"), "rb") as src, open(PERL_RC, "wb") as dst:
            dst.write(src.read())
    reimport()
    run(["setup", *args])


def query_rc(args):
    """``gitolite query-rc [-n] KEY...`` for the few keys the suite asks, via ``rc show``."""
    newline = "-n" not in args
    keys = [a for a in args if not a.startswith("-")]
    out = []
    for key in keys:
        if key == "GL_LOGFILE":
            import subprocess

            tpl = subprocess.run([GT, "rc", "show", "LOG_TEMPLATE"], capture_output=True, text=True)
            value = time.strftime(tpl.stdout.strip().replace("%y", "%Y"))
        else:
            import subprocess

            r = subprocess.run([GT, "rc", "show", key], capture_output=True, text=True)
            value = r.stdout.strip() if r.returncode == 0 else ""
        out.append(value)
    sys.stdout.write("\t".join(out) + ("\n" if newline else ""))
    return 0


def gitolite():
    args = sys.argv[1:]
    sub, rest = (args[0], args[1:]) if args else ("help", [])
    reimport()
    if sub == "setup":
        setup(rest)
    if sub == "query-rc" and [a for a in rest if not a.startswith("-")] == ["GL_BINDIR"]:
        # gitolite's GL_BINDIR is the folder of its `gitolite` program: this src/ (t/ reads
        # t/keys through it)
        sys.stdout.write(SRC + ("" if "-n" in rest else "\n"))
        sys.exit(0)
    if sub.startswith("../triggers/"):
        # `gitolite ../triggers/post-compile/NAME` runs one of gitolite's trigger programs by
        # hand; ours of the same name is a built-in script, run with the trigger's name
        import subprocess

        py = os.path.join(BINDIR, "python")  # type: ignore[name-defined]  # noqa: F821
        code = "import gitolite_triggers.paths as p; print(p.BUILTIN_TRIGGERS)"
        base = subprocess.run([py, "-c", code], capture_output=True, text=True).stdout.strip()
        prog = os.path.join(base, sub[len("../triggers/") :])
        os.execv(py, [py, prog, "POST_COMPILE", *rest])
    theirs = os.path.join(BINDIR, "gitolite")  # type: ignore[name-defined]  # noqa: F821
    if os.path.exists(theirs):
        os.execv(theirs, [theirs, *args])
    if sub == "query-rc":
        sys.exit(query_rc(rest))
    if sub in ("compile", "access", "trigger"):
        run([sub, *rest])
    sys.stderr.write(f"gitolite stand-in: '{sub}' has no gitolite-triggers equivalent yet\n")
    sys.exit(1)


if ROLE == "gitolite-shell":  # type: ignore[name-defined]  # noqa: F821
    shell()
else:
    gitolite()
