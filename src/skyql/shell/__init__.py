"""skyql.shell."""
