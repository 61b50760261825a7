"""Hypothesis: the client-text checks of the ssh commands hold for any input.

- ``D restore`` (``cmd_d.trashed_copy``): whatever the text, an accepted one names a copy
  inside the trash can (no ``..``, not absolute, REPO a canonical name);
- ``symbolic-ref`` (``cmd_symbolic_ref._branch_ok``): a branch we accept, git accepts too
  (``git check-ref-format``), so no option or odd ref reaches ``git symbolic-ref``;
- ``info``'s option parser: the pattern it returns never starts with ``-``.
"""

from __future__ import annotations

import os
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from gitolite_triggers.names import repo_name_problem
from gitolite_triggers.shell.cmd_d import trashed_copy
from gitolite_triggers.shell.cmd_info import _Usage, parse
from gitolite_triggers.shell.cmd_symbolic_ref import _branch_ok

NAME_CHARS = "abz09-_./:+@~ \\\n"
text = st.text(alphabet=st.sampled_from(NAME_CHARS), max_size=40)
restores = st.one_of(
    text, st.builds(lambda a, b: f"{a}/{b}", text, st.text(alphabet="0123456789-_:.", max_size=20))
)


@given(restores)
def test_an_accepted_trash_path_stays_in_the_trash_can(trashed: str) -> None:
    got = trashed_copy(trashed)
    if got is None:
        return
    real, stamp = got
    assert repo_name_problem(real) is None
    path = os.path.normpath(os.path.join("/trash", real, stamp))
    assert path.startswith("/trash/") and ".." not in path.split("/")
    assert path == os.path.join("/trash", real, stamp)  # nothing to normalise away


@settings(max_examples=60)  # one git process per example
@given(st.text(alphabet=st.sampled_from("ab/.-_~^:?*[@{}\\ \n"), max_size=20))
def test_a_branch_we_take_git_takes(tail: str) -> None:
    ref = "refs/heads/" + tail
    if _branch_ok(ref):
        r = subprocess.run(["git", "check-ref-format", ref], capture_output=True)
        assert r.returncode == 0, ref


@given(st.lists(st.text(alphabet=st.sampled_from("-lcdjsonph.*ab/"), max_size=8), max_size=4))
def test_info_options_never_become_the_pattern(args: list[str]) -> None:
    try:
        flags, pattern = parse(args)
    except _Usage:
        return
    assert pattern is None or not pattern.startswith("-")
    assert flags <= {"lc", "ld", "json", "p"}
