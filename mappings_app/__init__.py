"""WHAT to synchronize: the connection, table mappings, field mappings, transformation rules."""
