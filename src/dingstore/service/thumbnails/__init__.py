"""Thumbnails (GetDentryThumbnails, spec §6 K op 43; docs/previews.md).

A thumbnail belongs to a file *content* (a blob), not to a file: the versions and copies that
share a blob share its thumbnail, a new version (new bytes) gets a new one, and it is deleted
with the blob's bytes once no version references them (``FileService.collect``). The modules:

* ``rendering``: bytes in, a JPEG or PNG of at most 256 x 256 out (Pillow, pdfium);
* ``sandbox``: the helper processes that rendering runs in, under limits;
* ``making``: the THUMBNAIL task, asked for when CommitFile stores a blob, and its handler;
* ``helper``: the helper process's loop (kept light: it imports ``rendering`` only);
* ``queries``: ``ThumbnailService``, what GetDentryThumbnails answers.

This package's ``__init__`` imports nothing, so that a helper starts with Pillow and pdfium and
nothing of the server.
"""
