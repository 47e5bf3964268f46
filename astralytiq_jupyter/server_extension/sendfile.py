"""Sending a stored file as a response body, with ``sendfile(2)`` where the connection allows.

Why: a whole dataset version is sent as its stored Parquet file, byte for byte. Read and
written through tornado, every byte is copied from the page cache into Python and again into
the socket, on the event loop's thread: measured 40 ms of server CPU for a 68 MB download,
which made the server, not the network, the bound on how fast a client receives it. The kernel's
``sendfile`` moves the file's pages to the socket without either copy.

Tornado has no sendfile of its own, so the body goes around its stream: the status line and
headers are flushed through tornado, the body is sent on a duplicate of the connection's file
descriptor (tornado keeps its own, so a connection it closes meanwhile never has its number
reused under this send), waiting for writability on the event loop, and tornado is told the
declared ``Content-Length`` has been written. Connections where that is not sound (TLS, a
compressing transform, a connection class other than tornado's HTTP/1) and storages without a
file descriptor get the copying path, chunk by chunk.
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import IO, TYPE_CHECKING

from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, StreamClosedError

if TYPE_CHECKING:
    from .base import ApiHandler

#: Bytes read and written per step on the copying path.
CHUNK = 4 * 1024 * 1024


async def send_file(handler: ApiHandler, fh: IO[bytes], size: int) -> None:
    """Send ``size`` bytes of ``fh`` from its current position as the body of ``handler``'s
    response, whose headers (``Content-Length: size`` among them) are set, and finish it.
    Raises :class:`StreamClosedError` if the client goes away first."""
    descriptor = _file_descriptor(fh)
    connection = handler.request.connection
    if descriptor is not None and size > 0 and _plain_http1(handler):
        await handler.flush()  # the status line and headers, through tornado
        assert isinstance(connection, HTTP1Connection) and connection.stream is not None
        sent = await _sendfile(connection.stream, descriptor, fh.tell(), size)
        if sent == size:
            connection._expected_content_remaining = 0  # the body tornado did not see
    else:
        sent = await _copy(handler, fh, size)
    if sent < size:
        # The file is shorter than the version says: end the connection rather than let
        # the client wait for bytes that will never come.
        if isinstance(connection, HTTP1Connection):
            connection.close()
        raise StreamClosedError()
    handler.finish()


def _file_descriptor(fh: IO[bytes]) -> int | None:
    try:
        return fh.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None  # not a local file (an object store's, say)


def _plain_http1(handler: ApiHandler) -> bool:
    """Whether the response goes unaltered over plain TCP through tornado's HTTP/1 code."""
    connection = handler.request.connection
    settings = handler.settings
    return (
        hasattr(os, "sendfile")
        and isinstance(connection, HTTP1Connection)
        and type(connection.stream) is IOStream  # not SSLIOStream
        and hasattr(connection, "_expected_content_remaining")
        and not settings.get("compress_response")
        and not settings.get("gzip")
    )


async def _sendfile(stream: IOStream, descriptor: int, offset: int, size: int) -> int:
    """``sendfile`` until ``size`` bytes are sent or the file ends; the bytes sent."""
    loop = asyncio.get_running_loop()
    socket_fd = os.dup(stream.socket.fileno())
    sent = 0
    try:
        while sent < size:
            try:
                n = os.sendfile(socket_fd, descriptor, offset + sent, size - sent)
            except BlockingIOError:
                await _writable(loop, socket_fd)
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise StreamClosedError(real_error=exc) from None
            if n == 0:
                break  # end of file
            sent += n
    finally:
        os.close(socket_fd)
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Wait until ``fd`` can take more bytes (or has failed, which the next send reports)."""
    ready = loop.create_future()
    loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_writer(fd)


async def _copy(handler: ApiHandler, fh: IO[bytes], size: int) -> int:
    """The copying path: up to ``size`` bytes, the next chunk read in a thread while the
    previous one is sent, and ``flush`` after each lets a slow client hold back the reads.
    Returns the bytes sent."""
    sent = 0

    def read() -> bytes:
        return fh.read(min(CHUNK, size - sent))

    pending = asyncio.ensure_future(handler.run(read))
    try:
        while chunk := await pending:
            handler.write(chunk)
            sent += len(chunk)
            pending = asyncio.ensure_future(handler.run(read))
            await handler.flush()
    finally:
        await asyncio.wait([pending])
    return sent
