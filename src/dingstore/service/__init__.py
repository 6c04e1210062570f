"""The storage semantics, free of HTTP: services take typed arguments, return dataclasses and
raise ``dingstore.errors``."""
