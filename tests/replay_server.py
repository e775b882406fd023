"""A small local HTTP server that replays recorded responses, for testing the network seam.

Each route is a path and a list of `Reply`s given in turn (the last one
repeats), so "429 then 200" is two replies.  A route's path may include the
query string (matched exactly, after percent-decoding) or not (then it answers
any query to that path that has no route of its own).  The server runs on
127.0.0.1 on a free port in a background thread and records every request it
received (path as sent, headers), so tests can check what the client really sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    # Wait this long (or until the server stops) before answering: a slow service.
    delay: float = 0.0
    # Send the body in pieces without a Content-Length, ending it by closing the
    # connection, as a server streaming an endless answer would.
    streamed: bool = False


@dataclass(frozen=True)
class Received:
    path: str
    headers: Mapping[str, str]


@dataclass
class ReplayServer:
    routes: dict[str, list[Reply]]
    received: list[Received] = field(default_factory=list)
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)
    _served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, path: str) -> Reply | None:
        with self._lock:
            if not self.routes.get(path):
                path = path.split("?", 1)[0]
            replies = self.routes.get(path)
            if not replies:
                return None
            index = self._served.get(path, 0)
            self._served[path] = index + 1
            return replies[min(index, len(replies) - 1)]

    def requests_for(self, path: str) -> list[Received]:
        return [r for r in self.received if unquote(r.path) == path]

    def requests_to(self, path: str) -> list[Received]:
        """The requests made to `path`, whatever their query strings."""
        return [r for r in self.received if urlsplit(r.path).path == path]

    @staticmethod
    def query_of(received: Received) -> dict[str, str]:
        """The query parameters a request carried, decoded (the last value of a repeated name)."""
        return dict(parse_qsl(urlsplit(received.path).query, keep_blank_values=True))


def _handler_for(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: the connection closes after each answer, so a streamed body
        # needs no length and no handler thread outlives its test by much.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            with server._lock:
                server.received.append(Received(self.path, dict(self.headers.items())))
            reply = server.next_reply(unquote(self.path))
            if reply is None:
                reply = Reply(500, b"no route recorded for this path in the test",
                              (("Content-Type", "text/plain"),))
            if reply.delay and server.stopping.wait(reply.delay):
                return
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout, size cap): that is what is being tested

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            if not reply.streamed:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not reply.streamed:
                self.wfile.write(reply.body)
                return
            view = memoryview(reply.body)
            for start in range(0, len(view), 256 * 1024):
                if server.stopping.is_set():
                    return
                self.wfile.write(view[start:start + 256 * 1024])

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


@contextmanager
def serving(routes: Mapping[str, Sequence[Reply]]) -> Iterator[ReplayServer]:
    """Run a replay server for the duration of the `with` block."""
    state = ReplayServer({path: list(replies) for path, replies in routes.items()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    state.url = f"http://{host}:{port}"
    # A short poll interval so that stopping the server does not hold each test up.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              name="replay-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()  # releases slow handlers at once
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
