"""Accounts, roles, sessions and API tokens; permissions declared on every route."""
