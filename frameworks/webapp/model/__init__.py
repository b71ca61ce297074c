"""App and group definitions with Marathon's field names (see `app`, `group`, `json`)."""
