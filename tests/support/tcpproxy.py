"""A loopback TCP proxy whose open connections can be made to go silent
(no byte passes either way, nothing is closed: a half-open link, as when a
server or a NAT vanishes), while new connections pass as usual."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.links: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self) -> int:
        """Make every open connection silent; how many there were."""
        with self.lock:
            for _, _, silent in self.links:
                silent.set()
            return len(self.links)

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            silent = threading.Event()
            with self.lock:
                self.links.append((client, upstream, silent))
            threading.Thread(
                target=self._pump, args=(client, upstream, silent), daemon=True
            ).start()

    def _pump(
        self, client: socket.socket, upstream: socket.socket, silent: threading.Event
    ) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self.stopped.is_set():
                if silent.is_set():
                    self.stopped.wait(0.1)  # hold both ends open, pass nothing
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@contextmanager
def proxy(target: tuple[str, int]) -> Iterator[Proxy]:
    running = Proxy(target)
    try:
        yield running
    finally:
        running.close()
