#!/usr/bin/python3
"""A TCP relay that adds latency: every byte it forwards, in either direction, leaves it a fixed
delay after it arrived. deploy/zones.py runs it on the storage host in front of the NFS server
when the kernel has no `sch_netem` (tc netem), so zone <-> storage latency is real on the wire.

    delay_relay.py --listen 10.77.0.10:2050 --to 10.77.0.10:2049 [--delay-ms 0]

Commands on stdin, one per line, answered on stdout:
    delay MS    every byte read from now on is held MS ms each way -> "ok delay MS"
    stats       -> "ok connections N bytes B"
End of stdin stops the relay (it dies with the process that drives it).

Order is kept per connection and direction: a chunk never overtakes an earlier one, so lowering
the delay does not reorder the stream. A connection closed by one side is closed on the other
after the delay (half-closes are forwarded as such). If the upstream refuses, the client's
connection is closed at once (as a dead server would be seen).
"""

import argparse
import asyncio
import sys


class Relay:
    def __init__(self, upstream, delay_ms):
        self.upstream = upstream
        self.delay = delay_ms / 1000.0
        self.connections = 0
        self.bytes = 0

    async def pump(self, reader, writer):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def deliver():
            try:
                while True:
                    due, data = await queue.get()
                    wait = due - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if data is None:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((loop.time() + self.delay, data or None))
                if not data:
                    break
                self.bytes += len(data)
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time(), None))
        await sender

    async def handle(self, client_reader, client_writer):
        host, port = self.upstream
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        self.connections += 1
        try:
            await asyncio.gather(self.pump(client_reader, up_writer), self.pump(up_reader, client_writer))
        finally:
            for w in (up_writer, client_writer):
                w.close()


async def control(relay):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        words = line.decode().split()
        if len(words) == 2 and words[0] == "delay" and words[1].isdigit():
            relay.delay = int(words[1]) / 1000.0
            print(f"ok delay {words[1]}", flush=True)
        elif words == ["stats"]:
            print(f"ok connections {relay.connections} bytes {relay.bytes}", flush=True)
        elif words:
            print(f"error unknown command {line.decode().strip()!r}", flush=True)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(args):
    relay = Relay(host_port(args.to), args.delay_ms)
    host, port = host_port(args.listen)
    server = await asyncio.start_server(relay.handle, host, port, reuse_address=True)
    print(f"listening {args.listen} -> {args.to}, delay {args.delay_ms} ms", flush=True)
    async with server:
        await control(relay)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", required=True, help="HOST:PORT to accept on")
    p.add_argument("--to", required=True, help="HOST:PORT to forward to")
    p.add_argument("--delay-ms", type=int, default=0, help="latency added each way (default 0)")
    asyncio.run(main(p.parse_args()))
