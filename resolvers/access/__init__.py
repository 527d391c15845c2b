"""Who is asking and what they may do: the viewer, API tokens, permissions."""
