"""Request and response bodies of the storage operations (spec §5, §6 A to I), in DingTalk's
camelCase, a module a section of the spec (``common``: what several share). Responses leave out
what has no value (``exclude_none``)."""
