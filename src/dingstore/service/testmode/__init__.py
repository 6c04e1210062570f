"""dingstore as a test double: the controls ``serve --test-mode`` opens (docs/testing.md)."""
