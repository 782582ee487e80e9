"""Broadcast backends: where events are stored and how a process hears of them."""
