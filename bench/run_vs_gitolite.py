#!/usr/bin/env python3
"""Benchmark gitolite-triggers side by side with Debian's gitolite3 (issue 6).

    .venv/bin/python bench/run_vs_gitolite.py [--quick] [--only gitolite|ours] [--sizes 1000,10000]

Runs as root: it creates three system accounts and a private sshd on 127.0.0.1.
See bench/vs_gitolite/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_gitolite.main import main

if __name__ == "__main__":
    sys.exit(main())
