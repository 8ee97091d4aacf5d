"""skyql.fetch."""
