"""How much of a search is ranked exactly: the bounded candidate set.

Neither index hands matches over best first, so ranking every match would cost O(matches).
Only *candidates* are scored: the newest :data:`CANDIDATES` visible matches (that pass the
filter), and the newest :data:`TITLE_CANDIDATES` whose title holds every word, so an older
title match (which outranks every body-only match) is not crowded out by recent body-only
ones. "Newest" is by id, the order both indexes can walk and stop early in.

A search matching at most :data:`CANDIDATES` visible articles is ranked exactly; one matching
more lists at most ``CANDIDATES + TITLE_CANDIDATES`` results, best first among its
candidates, and ``hasNextPage`` ends there. Every page of a search is cut from the same
candidates, and ``totalCount`` counts them: exactly what paging reaches.

The backends read these through this module at call time, so a test can lower them.
"""

from __future__ import annotations

__all__ = ["CANDIDATES", "TITLE_CANDIDATES"]

# Big enough that a results page rarely reaches past them, small enough that finding and
# scoring them costs a few milliseconds (bench/results/search.md).
CANDIDATES = 500
TITLE_CANDIDATES = 100
