"""The test's app behind a real uvicorn server on 127.0.0.1, in the test's own event loop.

For requests an HTTP client would refuse to send or would normalise first (a raw `%00`, an
overlong UTF-8 sequence, a 12,000-character path): they are written to a socket as bytes.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.processes import HOST

START_TIMEOUT_SECONDS = 10.0


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    """Serve `app` (whose lifespan the caller runs) on a free port; yield the port.

    The socket is bound here and handed to uvicorn, so no other test (another xdist worker's
    included) can take the port between choosing it and listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        port: int = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        try:
            while not server.started:
                if task.done() or loop.time() > deadline:
                    raise RuntimeError("uvicorn did not start")
                await asyncio.sleep(0.01)
            yield port
        finally:
            server.should_exit = True
            await task


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str]]:
    """Send one HTTP/1.1 request as given; the status and headers of the answer."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(head + b"\r\nhost: rilon.test\r\nconnection: close\r\n")
        if body:
            writer.write(b"content-length: %d\r\n" % len(body))
        writer.write(b"\r\n" + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    header_block = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    status_line, *lines = header_block.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers
