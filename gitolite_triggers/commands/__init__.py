"""One module per ``gitolite-triggers`` sub-command, each with ``main(argv) -> int``."""
