"""Database access: engines, tables and the repository. Only the shell imports this."""
