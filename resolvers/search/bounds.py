"""How much of a search is ranked exactly: the bounded candidate set.

Neither index hands matches over best first, so ranking every match would cost O(matches).
Only *candidates* are scored: the newest :data:`CANDIDATES` visible matches (that pass the
filter), and the newest :data:`TITLE_CANDIDATES` whose title holds every word, so an older
title match (which outranks every body-only match) is not crowded out by recent body-only
ones. "Newest" is by id, the order both indexes can walk and stop early in.

A search matching at most :data:`CANDIDATES` visible articles is ranked exactly; one matching
more lists at most ``CANDIDATES + TITLE_CANDIDATES`` results, best first among its
candidates, and ``hasNextPage`` ends there. ``totalCount`` counts visible matches up to
:data:`COUNT_LIMIT` and stops (read it as "that many or more").

The backends read these through this module at call time, so a test can lower them.
"""

from __future__ import annotations

__all__ = ["CANDIDATES", "COUNT_LIMIT", "TITLE_CANDIDATES"]

# Big enough that a results page rarely reaches past them, small enough that finding and
# scoring them costs a few milliseconds (bench/results/search.md).
CANDIDATES = 500
TITLE_CANDIDATES = 100
# Each article counted is checked row by row.
COUNT_LIMIT = 1_000
