"""Server-Sent Events: the wire format and the event stream's parts."""
