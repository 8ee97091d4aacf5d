"""skyql.engine."""
