"""gitolite.conf: the rule language, its compiler, the compiled store and the access check.

- ``parse``: gitolite.conf text (with includes) -> :class:`parse.Parsed` (groups, rules, configs)
- ``compile``: ``compile_conf(rc)``: parse, create missing repos, write the store atomically
- ``store``: the compiled store on disk (one file, a hashed index, read with ``marshal``)
- ``check``: gitolite's ``access()`` and ``git_config()`` over one store snapshot
- ``query``: the public API every other part uses (see docs/conf.md)
"""
