"""API keys: credentials for front ends and scripts, with scopes, that are not a
person's password."""
