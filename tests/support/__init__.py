"""Helpers the tests share: factories, the graphql() helper, databases, the CLI runner."""
