"""skyql.sql."""
