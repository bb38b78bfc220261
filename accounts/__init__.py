"""Who may do what: users, their passwords and roles, access and refresh tokens, API keys."""
