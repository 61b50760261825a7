#!/usr/bin/env python3
"""The Buildkite stand-in, run from a checkout: ``python contrib/buildkite_standin.py --help``.

The stand-in itself ships inside the package (``gitolite_triggers/demo/standin.py``), so
``gitolite-triggers demo`` works from a plain ``pip install``; an installed package also
runs it as ``python -m gitolite_triggers.demo.standin``. This wrapper keeps the old path
working: it prefers the package of the checkout it sits in, and is the same module when
imported.
"""

from __future__ import annotations

import os
import sys

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_CHECKOUT, "gitolite_triggers")) and _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from gitolite_triggers.demo import standin  # noqa: E402

if __name__ == "__main__":
    sys.exit(standin.main())
sys.modules[__name__] = standin  # imported by path: the stand-in module itself
