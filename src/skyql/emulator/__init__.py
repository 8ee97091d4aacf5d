"""skyql.emulator."""
