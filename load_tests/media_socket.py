"""A WebSocket client driven by the one greenlet that holds it: websockets' Sans-I/O
`ClientProtocol` over a plain socket (gevent's, under locust).

`websockets.sync.client` reads in a background thread that waits in a selector; under
locust's gevent that thread is a greenlet, and a socket closed while it waits there
aborts the whole process ("libev: I/O watcher with invalid fd found in epoll_ctl"),
which the locust audio user hit at 10 calls. Here nothing else waits on the socket:
the call's own loop sends, and receives with a timeout, so closing is always safe.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections import deque
from types import TracebackType

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import SEND_EOF, State
from websockets.uri import parse_uri

RECV_BYTES = 65536
SEND_TIMEOUT_S = 10.0
# How long a closing handshake may wait for the server's side of it.
CLOSE_TIMEOUT_S = 2.0


class StreamClosed(ConnectionError):
    """The WebSocket is closed (by either side); nothing more can be sent or received."""


class MediaSocket:
    """A client WebSocket of text messages: `send`, `recv` with a timeout, `close`."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self._sock = sock
        self._protocol = protocol
        self._messages: deque[str] = deque()
        self._fragments: list[bytes] = []
        self._eof = False

    @classmethod
    def open(
        cls, url: str, headers: dict[str, str], *, user_agent: str, timeout_s: float
    ) -> MediaSocket:
        """Connect and complete the opening handshake; raises the handshake's error
        (`InvalidStatus` for a refused one), `OSError` or `TimeoutError`."""
        uri = parse_uri(url)
        protocol = ClientProtocol(uri)
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        request.headers["User-Agent"] = user_agent
        protocol.send_request(request)
        sock = socket.create_connection((uri.host, uri.port), timeout=timeout_s)
        # A 20 ms frame must not wait for the previous one's acknowledgement.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if uri.secure:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=uri.host)
        connection = cls(sock, protocol)
        try:
            connection._flush()
            deadline = time.monotonic() + timeout_s
            while protocol.state is State.CONNECTING and protocol.handshake_exc is None:
                if connection._eof:
                    raise ConnectionError("the server closed the connection in the handshake")
                connection._read(deadline - time.monotonic())
            if protocol.handshake_exc is not None:
                raise protocol.handshake_exc
        except BaseException:
            sock.close()
            raise
        return connection

    def __enter__(self) -> MediaSocket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # The server's close frame as soon as it came; websockets' own figures (1006 for a
    # connection lost without one) once the connection is closed.
    @property
    def close_code(self) -> int | None:
        received = self._protocol.close_rcvd
        return int(received.code) if received is not None else self._protocol.close_code

    @property
    def close_reason(self) -> str | None:
        received = self._protocol.close_rcvd
        return received.reason if received is not None else self._protocol.close_reason

    def send(self, text: str) -> None:
        if self._protocol.state is not State.OPEN:
            raise StreamClosed("the WebSocket is closed")
        self._protocol.send_text(text.encode())
        self._flush()

    def recv(self, timeout: float) -> str:
        """The next text message; `TimeoutError` if none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self._messages:
            if self._eof or self._protocol.state is not State.OPEN:
                raise StreamClosed("the WebSocket is closed")
            self._read(deadline - time.monotonic())
        return self._messages.popleft()

    def close(self, code: int = 1000) -> None:
        """The closing handshake (as far as the server answers it), then the socket."""
        try:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(code)
                self._flush()
            deadline = time.monotonic() + CLOSE_TIMEOUT_S
            while not self._eof and self._protocol.state is not State.CLOSED:
                self._read(deadline - time.monotonic())
        except (OSError, StreamClosed):
            pass  # TimeoutError included: the server did not answer; close anyway
        finally:
            self._sock.close()

    def _read(self, timeout: float) -> None:
        """Receive what the server sent within `timeout`; `TimeoutError` if nothing."""
        if timeout <= 0:
            raise TimeoutError
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(RECV_BYTES)
        except TimeoutError:
            raise
        except OSError as exc:
            self._eof = True
            raise StreamClosed(f"the connection failed: {exc}") from None
        if data:
            self._protocol.receive_data(data)
        else:
            self._eof = True
            self._protocol.receive_eof()
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                self._frame(event)
        # Pongs and the reply to a close go out at once.
        self._flush()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.CONT):
            self._fragments.append(frame.data)
            if frame.fin:
                self._messages.append(b"".join(self._fragments).decode())
                self._fragments.clear()

    def _flush(self) -> None:
        self._sock.settimeout(SEND_TIMEOUT_S)
        try:
            for data in self._protocol.data_to_send():
                if data == SEND_EOF:
                    self._sock.shutdown(socket.SHUT_WR)
                else:
                    self._sock.sendall(data)
        except OSError as exc:
            self._eof = True
            raise StreamClosed(f"the connection failed: {exc}") from None
