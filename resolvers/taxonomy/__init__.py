"""Categories (a tree), authors and tags: lookups, lists and writes."""
