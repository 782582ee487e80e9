"""The database reader: QuerySets read in chunks, a column at a time, with
the SQLite and PostgreSQL shapes of each column in their own modules."""
