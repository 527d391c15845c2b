"""Articles: reads and the visibility rule, writes, related posts, former slugs, bodies."""
