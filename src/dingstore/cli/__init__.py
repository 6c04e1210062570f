"""The ``dingstore`` command: serve, and admin commands on the same store."""
