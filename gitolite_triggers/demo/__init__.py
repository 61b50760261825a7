"""``gitolite-triggers demo``: the whole path on a sandboxed server, in a temp dir.

1. a server account is set up (``setup --pubkey``) with ``show-args`` registered under
   every trigger, so each program's argv is visible, and a Buildkite pipeline pointing at
   the bundled stand-in (``demo/standin.py``, shipped in the package) on 127.0.0.1;
2. the admin clones ``gitolite-admin`` over the (simulated) ssh path, adds a repo and a
   user, and pushes: the rules compile and POST_COMPILE fires;
3. the new user clones the repo, commits and pushes: ACCESS_CHECK, PRE_GIT, the update
   hook's per-ref ACCESS_CHECK, POST_GIT and the Buildkite program fire;
4. the build arrives at the stand-in, and its payload is shown.

Nothing outside the temp dir is touched; traffic goes only to 127.0.0.1. The ssh leg is
simulated by ``demo/fakessh.py`` (it runs the forced command of the authorized_keys line
that ``ssh-authkeys`` wrote for the key, as sshd does); the test suite uses a real sshd.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitolite_triggers.demo.standin import StandIn

ORG, PIPELINE = "example-org", "git-pipeline-demo"


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def run(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run and echo a command with its output (stderr shows the server's remote: lines)."""
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    for line in (r.stdout + r.stderr).splitlines():
        print("  " + line)
    if check and r.returncode != 0:
        raise SystemExit(f"demo: step failed (exit {r.returncode}): {' '.join(cmd)}")
    return r


def keygen(path: Path, env: dict[str, str]) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        env=env,
        check=True,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="gitolite-triggers demo",
        description="The whole path on a sandboxed server in a temp dir: setup, an admin push,"
        " a user's push firing every trigger, and the build arriving at a Buildkite stand-in on"
        " 127.0.0.1. Nothing outside the temp dir is touched.",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    ns = parser.parse_args(argv)
    for tool in ("git", "ssh-keygen"):
        if not shutil.which(tool):
            raise SystemExit(f"demo: '{tool}' is needed (Debian: git, openssh-client)")
    top = Path(tempfile.mkdtemp(prefix="gitolite-triggers-demo-"))
    standin = None
    try:
        from gitolite_triggers.demo.standin import StandIn

        token = secrets.token_hex(20)
        standin = StandIn(tokens={token: None}).start()
        standin.add_pipeline(ORG, PIPELINE)
        return demo(top, standin, token)
    finally:
        if standin is not None:
            standin.stop()
        if ns.keep:
            print(f"\n(kept {top})")
        else:
            shutil.rmtree(top, ignore_errors=True)


def demo(top: Path, standin: StandIn, token: str) -> int:
    server_home, client = top / "server", top / "client"
    server_home.mkdir()
    client.mkdir()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GL_", "GIT_", "SSH_", "BUILDKITE_"))
    }
    server = {**base, "HOME": str(server_home)}
    exe = str(Path(sys.executable).with_name("gitolite-triggers"))
    gt = [exe] if os.path.exists(exe) else [sys.executable, "-m", "gitolite_triggers"]

    say(f"A sandboxed server account in {server_home}; the Buildkite stand-in on {standin.api_url}")
    keys = client / "keys"
    keys.mkdir()
    for user in ("admin", "alice"):
        keygen(keys / user, base)
    shutil.copy(keys / "admin.pub", top / "admin.pub")
    token_file = server_home / ".buildkite-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    run([*gt, "setup", "--pubkey", str(top / "admin.pub")], server)
    rc_d = server_home / ".gitolite.rc.d"
    (rc_d / "60-demo.yaml").write_text(
        "# The demo: show what every trigger program receives.\n"
        "ACCESS_CHECK: [show-args]\nPRE_GIT: [show-args]\nPOST_GIT: [show-args]\n"
        "PRE_CREATE: [show-args]\nPOST_CREATE: [show-args]\nPOST_COMPILE: [show-args]\n"
        "buildkite:\n"
        f"  api_url: {standin.api_url}\n"
        f"  token_file: {token_file}\n"
        "  pipelines:\n"
        f"    - repos: 'demo'\n      org: {ORG}\n      pipeline: {PIPELINE}\n      branches: ['main']\n"
    )
    run([*gt, "rc", "show", "POST_GIT"], server)

    def as_user(user: str) -> dict[str, str]:
        return {
            **base,
            "HOME": str(client / user),
            "DEMO_SERVER_HOME": str(server_home),
            "GIT_SSH_COMMAND": f"{sys.executable} -m gitolite_triggers.demo.fakessh -i {keys / user}",
            "GIT_SSH_VARIANT": "simple",
            "GIT_AUTHOR_NAME": user.title(),
            "GIT_COMMITTER_NAME": user.title(),
            "GIT_AUTHOR_EMAIL": f"{user}@example.com",
            "GIT_COMMITTER_EMAIL": f"{user}@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    admin, alice = as_user("admin"), as_user("alice")
    for env in (admin, alice):
        Path(env["HOME"]).mkdir()

    say("The admin clones gitolite-admin, adds repo 'demo' and user alice, and pushes")
    work = client / "admin" / "gitolite-admin"
    run(["git", "clone", "-q", "git@server:gitolite-admin", str(work)], admin)
    shutil.copy(keys / "alice.pub", work / "keydir" / "alice.pub")
    with open(work / "conf" / "gitolite.conf", "a") as f:
        f.write("\nrepo demo\n    RW+     =   alice\n    R       =   @all\n")
    run(["git", "add", "-A"], admin, cwd=work)
    run(["git", "commit", "-q", "-m", "add repo demo and user alice"], admin, cwd=work)
    run(["git", "push", "-q", "origin", "HEAD"], admin, cwd=work)

    say("alice clones demo, commits and pushes main: watch the triggers fire")
    repo = client / "alice" / "demo"
    run(["git", "clone", "-q", "git@server:demo", str(repo)], alice)
    (repo / "README").write_text("Quotes \"inside\" and 'single' ones survive the JSON payload.\n")
    run(["git", "add", "README"], alice, cwd=repo)
    run(["git", "commit", "-q", "-m", 'First commit: "hello, Buildkite"'], alice, cwd=repo)
    run(["git", "push", "origin", "HEAD:main"], alice, cwd=repo)
    head = run(["git", "rev-parse", "HEAD"], alice, cwd=repo).stdout.strip()

    say("Hostile requests are refused before anything runs: an alias of demo, a shell trick")
    for url in ("git@server:demo/.", "git@server:demo;touch${IFS}/tmp/x"):
        r = run(["git", "ls-remote", url], alice, check=False)
        if r.returncode == 0 or "FATAL: " not in r.stderr:
            raise SystemExit(f"demo: {url} was not refused")

    say("The build arrives at the Buildkite stand-in (delivered by a detached process)")
    deadline = time.monotonic() + 30
    builds = []
    while time.monotonic() < deadline:
        builds = standin.builds(ORG, PIPELINE)
        if builds:
            break
        time.sleep(0.1)
    if not builds:
        run([*gt, "buildkite", "status"], server, check=False)
        raise SystemExit("demo: no build arrived at the stand-in within 30 s")
    b = builds[0]
    shown = {
        k: b.get(k)
        for k in (
            "number",
            "web_url",
            "state",
            "commit",
            "branch",
            "message",
            "author",
            "meta_data",
        )
    }
    print(json.dumps(shown, indent=2))
    if b.get("commit") != head:
        raise SystemExit(f"demo: the build is for {b.get('commit')}, expected {head}")
    say("alice pushes a commit marked [skip ci]: no build, and she is told so")
    run(["git", "commit", "-q", "--allow-empty", "-m", "Fix a typo [skip ci]"], alice, cwd=repo)
    r = run(["git", "push", "origin", "HEAD:main"], alice, cwd=repo)
    if "[skip ci] in its commit message" not in r.stderr:
        raise SystemExit("demo: the [skip ci] push was not reported as skipped")
    run([*gt, "buildkite", "status"], server, check=False)
    if len(standin.builds(ORG, PIPELINE)) != 1:
        raise SystemExit("demo: the [skip ci] push made a build")
    say(f"Done: one push, triggers fired, build #{b['number']} created for {head[:12]} on main")
    return 0
