"""skyql.cli."""
