"""Read a gitolite v3 rc (Perl code) with perl itself, in a child process.

The rc is a Perl program (``%RC = (...)``, often with ``$ENV{HOME}``, string
concatenation, and sites' own statements appended), so only perl reads it right. Every
gitolite host has perl and JSON::PP (a core module since 5.14). The child gets the rc
path as an argument (never spliced into the code), no shell, a timeout, and prints
``%RC`` as JSON; code references and other non-data become the string ``"<perl>"``.

Optional ``overlays`` are Perl files evaluated after the rc that change ``$rc{KEY}``
(gitolite's own test suite does so through ``G3T_RC``): ``%rc`` is an alias of ``%RC``.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from gitolite_triggers.errors import Fatal

TIMEOUT = 30.0
MAX_OUTPUT = 4 * 1024 * 1024

# Reads @ARGV only; a failed `do` reports perl's own message.
PERL_CODE = r"""
use strict; use warnings; use JSON::PP ();
our (%RC, %rc);
*rc = \%RC;
sub clean {
    my $v = shift;
    return $v unless ref $v;
    return { map { ($_ => clean($v->{$_})) } keys %$v } if ref $v eq 'HASH';
    return [ map { clean($_) } @$v ] if ref $v eq 'ARRAY';
    return '<perl>';
}
for my $file (@ARGV) {
    package main;
    no strict 'vars';
    my $ok = do $file;
    if ($@) { print STDERR "$file: $@"; exit 3 }
    if (!defined $ok && $!) { print STDERR "$file: $!\n"; exit 4 }
}
print JSON::PP->new->canonical->encode(clean(\%RC));
"""


def read_perl_rc(path: str, overlays: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the rc's ``%RC`` as plain data; a Fatal names what went wrong."""
    import os

    # absolute: `do` would search @INC for a relative path; and never taken for an option
    files = [os.path.abspath(p) for p in (path, *overlays)]
    try:
        r = subprocess.run(
            ["perl", "-e", PERL_CODE, "--", *files],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise Fatal("perl is not on PATH: it is needed to read a gitolite rc") from None
    except subprocess.TimeoutExpired:
        raise Fatal(f"{path}: perl did not finish reading it in {TIMEOUT:g}s") from None
    if r.returncode != 0:
        detail = r.stderr.decode(errors="replace").strip()[-2000:]
        raise Fatal(f"{path}: perl could not evaluate it: {detail or f'exit {r.returncode}'}")
    if len(r.stdout) > MAX_OUTPUT:
        raise Fatal(f"{path}: the rc is larger than {MAX_OUTPUT} bytes as JSON")
    try:
        data = json.loads(r.stdout)
    except ValueError as e:
        raise Fatal(f"{path}: perl's JSON output could not be read: {e}") from None
    if not isinstance(data, dict):
        raise Fatal(f"{path}: %RC is not a hash")
    return data
