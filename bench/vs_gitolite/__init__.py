"""Side-by-side benchmark of gitolite-triggers against Debian's gitolite3 (issue 6).

Run it with ``bench/run_vs_gitolite.py``; README.md in this folder says what it measures.
"""
