"""Streamed JSON and JSON Lines: the Django side of the JSON writer (what a
QuerySet and the settings give it) and :class:`JSONStreamView`."""
