"""The pure streaming core, with no Django imports: the stream types, the
relay between a source and the server, what a response relays (feeds), the
sync/async bridges, and the scope that carries a request's context."""
