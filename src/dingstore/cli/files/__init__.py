"""The file commands: ``ls``, ``put``, ``get``, ``cp``, ``mv``, ``rm``, ``mkdir``, ``trash``,
``tasks``, ``events tail`` and ``login``, a client of a server through ``dingstore.client``
(docs/cli.md). They import nothing of the server."""
