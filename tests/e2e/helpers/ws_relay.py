#!/usr/bin/python3
"""An independent WebSocket client for ssh's ProxyCommand, on Debian's
python3-websockets (asyncio API): relays stdin and stdout as binary frames.

Usage: ws_relay.py URL [TOKEN]   (TOKEN is sent as Authorization: Bearer)
Exits 0 when the server closes the tunnel; 1 with one line on stderr on a
failure (the HTTP status when the upgrade was refused).
"""
import asyncio
import os
import sys
import threading

import websockets


async def relay(url, token):
    headers = {"Authorization": "Bearer " + token} if token else {}
    loop = asyncio.get_running_loop()
    async with websockets.connect(url, extra_headers=headers, max_size=None,
                                  compression=None, ping_interval=None) as ws:

        # stdin is read by a daemon thread, so a blocked read never keeps
        # the process alive once the server has closed.
        queue = asyncio.Queue(maxsize=4)

        def reader():
            try:
                while True:
                    data = os.read(0, 65536)
                    asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
                    if not data:
                        return
            except (OSError, RuntimeError, asyncio.CancelledError):
                return

        threading.Thread(target=reader, daemon=True).start()

        async def up():
            while True:
                data = await queue.get()
                if not data:
                    await ws.close()
                    return
                await ws.send(data)

        async def down():
            async for message in ws:
                if isinstance(message, str):
                    message = message.encode()
                os.write(1, message)

        sender = asyncio.ensure_future(up())
        await down()
        sender.cancel()


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: ws_relay.py URL [TOKEN]", file=sys.stderr)
        return 2
    try:
        asyncio.run(relay(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else ""))
    except websockets.exceptions.InvalidStatusCode as e:
        print("ws_relay: the server answered HTTP %d" % e.status_code, file=sys.stderr)
        return 1
    except (OSError, websockets.exceptions.WebSocketException) as e:
        print("ws_relay: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
