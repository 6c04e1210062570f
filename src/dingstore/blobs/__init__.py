"""Where file bytes live: the blob-store seam (``base.py``) and its implementations."""
