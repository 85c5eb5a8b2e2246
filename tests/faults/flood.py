"""A hostile client, run as its own process (so that it does not share the server's interpreter):
sends `input` messages to a play server's WebSocket, about 10,000 a second, for some seconds, then
prints how many it sent, how many error replies it got, and whether the server closed the
connection."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def flood(url: str, seconds: float) -> dict:
    msg = json.dumps({"type": "input", "slot": 0, "controller": {"main_x": 1.0}})
    sent, closed_by_server = 0, False
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            replies: dict[str, int] = {}
            reader = asyncio.ensure_future(_drain(ws, replies))
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if ws.closed:
                    closed_by_server = True
                    break
                try:
                    for _ in range(100):
                        await ws.send_str(msg)
                        sent += 1
                except (ConnectionError, RuntimeError):
                    closed_by_server = True
                    break
                await asyncio.sleep(0.01)
            closed_by_server = closed_by_server or ws.closed
            reader.cancel()
    return {"sent": sent, "closed_by_server": closed_by_server, "errors": replies.get("error", 0)}


async def _drain(ws, replies: dict[str, int]) -> None:
    async for msg in ws:  # reading is also how a close from the server is seen
        if msg.type == aiohttp.WSMsgType.TEXT:
            kind = json.loads(msg.data).get("type")
            replies[kind] = replies.get(kind, 0) + 1


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2])))), flush=True)
