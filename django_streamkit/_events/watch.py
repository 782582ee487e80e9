"""What a stream can learn, while it is silent, about the client and the
server: whether the client has closed its connection, and whether the server
is shutting down. Neither a WSGI nor an ASGI server says so to the app.

- The client: under WSGI, the connection's socket is watched for the peer's
  half-close (``POLLRDHUP``), without reading from it. Gunicorn (sync and
  gthread) puts the socket in the environ (``gunicorn.socket``); Django's
  development server (wsgiref) only has it behind ``wsgi.input``, Django's
  ``LimitedStream`` over the socket's reader. Under ASGI, Django's handler
  cancels the response on ``http.disconnect``.
- The server: gunicorn's workers and uvicorn install their own ``SIGTERM``
  handler, a bound method of the worker (whose ``alive`` goes ``False``) or of
  the server (whose ``should_exit`` goes ``True``). Ending the stream then
  lets the server finish within its grace period; the client reconnects.
"""

from __future__ import annotations

import select
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.core.signals import request_finished, request_started

_local = threading.local()


def _remember(
    sender: object, environ: Mapping[str, Any] | None = None, **kw: object
) -> None:
    # Sent on the thread that will iterate the response (WSGI): remember its
    # environ there. Under ASGI there is a scope and no environ.
    _local.environ = environ


def _forget(sender: object, **kwargs: object) -> None:
    _local.environ = None


request_started.connect(_remember, dispatch_uid="streamkit-sse-environ")
request_finished.connect(_forget, dispatch_uid="streamkit-sse-environ")


def current_environ() -> Mapping[str, Any] | None:
    """The WSGI environ of the request this thread is serving, if any."""
    return getattr(_local, "environ", None)


def client_fileno(environ: Mapping[str, Any]) -> int | None:
    """The client connection's file descriptor, where the server gives it."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        # wsgiref: LimitedStream(rfile) keeps rfile.read as ``_read``.
        read = getattr(environ.get("wsgi.input"), "_read", None)
        sock = getattr(read, "__self__", None)
    fileno = getattr(sock, "fileno", None)
    if fileno is None:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError):
        return None


_HUNG_UP = (
    getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR | select.POLLNVAL
)


def client_gone(environ: Mapping[str, Any] | None) -> Callable[[], bool]:
    """A check, cheap enough for every idle tick, that the client has left."""
    fd = None if environ is None else client_fileno(environ)
    if fd is None or not getattr(select, "POLLRDHUP", 0):
        return _never
    poller = select.poll()
    poller.register(fd, _HUNG_UP)

    def gone() -> bool:
        return bool(poller.poll(0))

    return gone


def server_stopping() -> bool:
    """Whether the server (gunicorn's worker, uvicorn) has been told to stop."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if owner is None:
        return False
    return (
        getattr(owner, "alive", True) is False
        or getattr(owner, "should_exit", False) is True
    )


def _never() -> bool:
    return False
