"""The four built-in POST_COMPILE programs, one module each with ``main(argv) -> int``.

They run as separate processes (thin scripts in ``triggers/post-compile/``), so an admin
can run, replace or remove each one independently, exactly as gitolite's are. Shared
plumbing (argument convention, atomic writes) lives in ``common``.
"""
