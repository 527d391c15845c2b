"""The logic, by domain (access, articles, taxonomy, search) over a small shared core.

Nothing here imports Strawberry: resolvers take a session and plain arguments and return
rows, so ranking, search and writes can be tested without GraphQL.
"""
