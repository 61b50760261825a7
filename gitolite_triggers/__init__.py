"""gitolite-triggers: a gitolite-style trigger system for self-hosted git servers.

Kept empty on purpose: ``gitolite-triggers shell`` and the repo hooks import this
package on every fetch and push, so nothing here may pull in PyYAML, jsonschema or
requests.
"""

__version__ = "0.1.0"  # the one place: setup.cfg reads it (version = attr: ...)
