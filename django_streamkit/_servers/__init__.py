"""What makes every streamed response stream on every server: the ASGI
stepping middleware, and the abort a server needs help with."""
