"""skyql.plan."""
