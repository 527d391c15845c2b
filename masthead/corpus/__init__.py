"""The corpus format and the CLI's import, export and demo content (never run per request)."""
