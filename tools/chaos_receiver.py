"""A webhook receiver that misbehaves on purpose, one way per path (raw asyncio, byte control).

    /ok         200 at once                /500        500 at once
    /hang       reads the request, never answers
    /drip       a 200's status line and headers, then the body one byte a second
    /drip-head  the status line and headers themselves one byte a second (never complete)
    /reset      reads the request, then closes the connection with a TCP RST
    /redirect   302 to a loopback URL (its own /redirected unless told otherwise)
    /huge       200 with a 10 MB body
    /slow-ok    200 after `slow_seconds`

Anything after the mode is ignored (`/500/7` answers like `/500`), so one receiver can stand
behind many subscriptions. Point a subscription at it by hand with

    python -m tools.chaos_receiver --port 9100      # then subscribe http://127.0.0.1:9100/hang
"""

import argparse
import asyncio
import socket
import struct
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

HOST = "127.0.0.1"
MODES = ("ok", "500", "hang", "drip", "drip-head", "reset", "redirect", "huge", "slow-ok")
CHUNK = 64 * 1024


@dataclass
class ChaosReceiver:
    port: int = 0
    slow_seconds: float = 1.0
    huge_bytes: int = 10 * 1024 * 1024
    redirect_to: str | None = None
    hits: list[str] = field(default_factory=list)  # path of every request read in full
    huge_sent: int = 0  # body bytes /huge managed to write before the client went away
    _server: asyncio.Server | None = None
    _tasks: set["asyncio.Task[None]"] = field(default_factory=set)

    def url(self, path: str = "/ok") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def at(self, mode: str) -> list[str]:
        return [hit for hit in self.hits if hit.strip("/").split("/")[0] == mode]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            path = await _read_request(reader)
            self.hits.append(path)
            mode = path.strip("/").split("/")[0]
            await self._answer(mode, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # closing: end quietly (asyncio logs a connection task that ends cancelled)
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _answer(self, mode: str, writer: asyncio.StreamWriter) -> None:
        if mode == "hang":
            await asyncio.sleep(3600)
        elif mode == "drip":
            await _send(writer, _head(200, {"Content-Length": "3600"}))
            for _ in range(3600):
                await _send(writer, b"x")
                await asyncio.sleep(1)
        elif mode == "drip-head":
            for byte in _head(200, {"Content-Length": "2"}) + b"ok":
                await _send(writer, bytes([byte]))
                await asyncio.sleep(1)
        elif mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "redirect":
            target = self.redirect_to or self.url("/redirected")
            await _send(writer, _head(302, {"Location": target, "Content-Length": "0"}))
        elif mode == "huge":
            await _send(writer, _head(200, {"Content-Length": str(self.huge_bytes)}))
            while self.huge_sent < self.huge_bytes:
                size = min(CHUNK, self.huge_bytes - self.huge_sent)
                await _send(writer, b"x" * size)
                self.huge_sent += size
        elif mode == "slow-ok":
            await asyncio.sleep(self.slow_seconds)
            await _send(writer, _head(200, {"Content-Length": "2"}) + b"ok")
        elif mode == "500":
            await _send(writer, _head(500, {"Content-Length": "2"}) + b"no")
        else:
            await _send(writer, _head(200, {"Content-Length": "2"}) + b"ok")


async def _read_request(reader: asyncio.StreamReader) -> str:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *lines = head.split("\r\n")
    length = 0
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return request_line.split(" ")[1]


def _head(status: int, headers: dict[str, str]) -> bytes:
    fields = [f"{name}: {value}" for name, value in headers.items()]
    lines = [f"HTTP/1.1 {status} Chaos", "Connection: close", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


@asynccontextmanager
async def running(receiver: ChaosReceiver | None = None) -> AsyncIterator[ChaosReceiver]:
    chaos = receiver or ChaosReceiver()
    await chaos.start()
    try:
        yield chaos
    finally:
        await chaos.close()


async def _main(args: argparse.Namespace) -> None:
    chaos = ChaosReceiver(args.port, args.slow, redirect_to=args.redirect_to)
    async with running(chaos):
        sys.stdout.write(f"chaos receiver on {chaos.url('/')}  modes: {', '.join(MODES)}\n")
        sys.stdout.flush()
        with suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.chaos_receiver", description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--slow", type=float, default=5.0, help="seconds /slow-ok waits")
    parser.add_argument("--redirect-to", help="where /redirect points (default its /redirected)")
    with suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))
    sys.exit(0)
