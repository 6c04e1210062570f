"""Persistence: the SQL schema, its migrations and the queries, behind one database seam."""
