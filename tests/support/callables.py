"""In-process trigger programs used by the runner tests (rc entries ``tests.support.callables:NAME``)."""

from __future__ import annotations

import json
import os
import time


def record(argv: list[str]) -> int:
    """Append argv and the GL_* environment as one JSON line to $RECORD_FILE."""
    env = {k: v for k, v in os.environ.items() if k.startswith("GL_")}
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"argv": argv, "env": env, "inproc": True}) + "\n")
    return 0


def noop(argv: list[str]) -> int:
    return 0


def chatty(argv: list[str]) -> int:
    print("CALLABLE-STDOUT")
    return 0


def explode(argv: list[str]) -> int:
    raise ValueError("the frobnicator is out of order")


def fail7(argv: list[str]) -> int:
    return 7


def slow(argv: list[str]) -> int:
    time.sleep(30)
    return 0


def meddle(argv: list[str]) -> int:
    """Changes the environment it was given; the runner must undo all of it."""
    assert os.environ["GL_REPO"] == "r"
    os.environ["INJECTED"] = "1"
    os.environ.pop("KEEP", None)
    os.environ["PATH"] = "/nowhere"
    return 0
