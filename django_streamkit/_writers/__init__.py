"""Rows to bytes, one module per format: each writer renders batches of rows
for the relay (see :mod:`django_streamkit._core.feed`). No Django imports."""
