"""Endpoints, one module per family, ordered like the spec."""
