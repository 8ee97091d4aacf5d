"""skyql.dbapi."""
