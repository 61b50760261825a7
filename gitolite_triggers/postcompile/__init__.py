"""The four built-in POST_COMPILE programs, one module each with ``main(argv) -> int``.

The runner runs them in-process (``programs.BUILTIN_IN_PROCESS``: an admin push pays no
interpreter start-up per program); the thin scripts in ``triggers/post-compile/`` keep each
one a standalone tool an admin can run, replace (LOCAL_CODE) or remove, as gitolite's are.
Shared plumbing (argument convention, error reporting) lives in ``common``; atomic writes
in atomicfile.py.
"""
