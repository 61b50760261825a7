"""VREFs: the update hook's checks beyond the ref name (docs/conf.md, "VREFs").

Loaded only for a push to a repo whose rules for the pusher name a ``VREF/...`` refex
(``hooks/entry.py`` asks ``conf.query.access_vrefs`` first), so every other push pays
nothing for it. ``check.py`` drives the checks (``VREF/NAME/`` and the helper-program
interface); ``builtins.py`` holds the helpers we ship (COUNT, MAX_NEWBIN_SIZE).
"""
