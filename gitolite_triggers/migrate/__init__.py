"""Taking over a gitolite v3 install: its Perl rc (``perlrc``, ``rcmap``) and its home (``home``)."""
