"""What the play server refuses before a request or a message reaches the game.

* Host and Origin: a web page the user happens to visit can open a WebSocket to 127.0.0.1 (the
  browser sends its own Origin), and a DNS-rebinding name makes the browser send another Host.
  Only the names the server is reachable at are accepted (`allowed_hosts`), and a request that
  carries an Origin must come from the page this server served (same host and port).
* Floods: each client has a message budget (`RateLimiter`); a message over it is dropped before
  it is parsed or answered, the drop is logged once per interval (`LogThrottle`), the client's
  socket is left unread until its budget renews (so the flood waits in its own TCP buffers, not in
  the server's time), and a client that stays over it is disconnected.
* Small checks of hostile values: static file names, numbers that JSON can carry back.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import time
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

log = logging.getLogger("dreamland.play.server")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("", "0.0.0.0", "::")
MAX_MESSAGES_PER_SECOND = 240  # per client; the page sends about 60 plus one per key change
ABUSE_SECONDS = 3  # a client over the budget this many seconds in a row is disconnected
LOG_INTERVAL_S = 5.0  # at most one warning per client (or per refused peer) per interval
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_JSON_SAFE_INT = 2**53  # beyond this a browser's JSON.parse loses digits


def is_wildcard(host: str) -> bool:
    return host in WILDCARD_HOSTS


def interface_addresses() -> list[str]:
    """The machine's IP addresses (IPv4 first), loopback excluded; empty when unknown."""
    try:
        import psutil

        found = [a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs
                 if a.family in (socket.AF_INET, socket.AF_INET6)]
    except (ImportError, OSError):
        return []
    out = []
    for a in found:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if not ip.is_loopback and not ip.is_link_local and a not in out:
            out.append(a)
    return sorted(out, key=lambda a: (":" in a, a))


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may name: loopback names, the bound address, and on a wildcard bind
    every address and name of this machine; `extra` adds names (a reverse proxy's, say)."""
    names = {n.lower() for n in LOOPBACK_NAMES}
    if is_wildcard(bind_host):
        names.update(interface_addresses())
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name.lower())
    else:
        names.add(bind_host.strip("[]").lower())
    names.update(e.strip().strip("[]").lower() for e in extra if e.strip())
    return frozenset(names)


def reachable_urls(bind_host: str, port: int) -> list[str]:
    """Where the game can be opened: one URL for a specific address, every address for a wildcard."""
    if not is_wildcard(bind_host):
        return [f"http://{_bracket(bind_host)}:{port}/"]
    return [f"http://{_bracket(a)}:{port}/" for a in ["127.0.0.1", *interface_addresses()]]


def startup_lines(bind_host: str, port: int) -> list[str]:
    """What `dreamland play` prints once it listens: the address, and on a wildcard bind a warning
    and every address the game is reachable at."""
    urls = reachable_urls(bind_host, port)
    if not is_wildcard(bind_host):
        return [f"dreamland play: {urls[0]}  (Ctrl-C to stop)"]
    return [
        f"dreamland play: warning: listening on {bind_host or 'every address'}, so the game is reachable "
        "from the network: anyone who can reach this machine can watch and take a free slot",
        "dreamland play: reachable at " + "  ".join(urls) + "  (Ctrl-C to stop)",
    ]


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _split_host(value: str) -> tuple[str, int | None]:
    """'name:port' or '[v6]:port' -> (name, port); raises ValueError when malformed."""
    parts = urlsplit("//" + value)
    if parts.hostname is None or parts.username is not None or parts.path:
        raise ValueError(value)
    return parts.hostname.lower(), parts.port


def refusal(host_header: str | None, origin: str | None, allowed: frozenset[str]) -> str | None:
    """Why a request must be refused, or None when it may go on."""
    if not host_header:
        return "no Host header"
    try:
        host, host_port = _split_host(host_header)
    except ValueError:
        return "malformed Host header"
    if host not in allowed:
        return f"host {host[:80]!r} is not one this server answers to (dreamland play --allow-host)"
    if origin is None:
        return None  # not a browser page's request (curl, Python); browsers always send one for WebSockets
    try:
        o = urlsplit(origin)
        o_host, o_port = (o.hostname or "").lower(), o.port
    except ValueError:
        return "malformed Origin header"
    if o.scheme not in ("http", "https") or not o_host:
        return f"origin {origin[:80]!r} is not a page of this server"
    default = 443 if o.scheme == "https" else 80
    if o_host != host or (o_port or default) != (host_port or default):
        return f"origin {origin[:80]!r} is not a page of this server"
    return None


def middleware(allowed: frozenset[str]) -> Callable:
    """aiohttp middleware: 403 with a one-line reason for a foreign Host or Origin."""
    from aiohttp import web

    throttle = LogThrottle()

    @web.middleware
    async def check_host_and_origin(request: web.Request, handler: Callable) -> Any:
        why = refusal(request.headers.get("Host"), request.headers.get("Origin"), allowed)
        if why is None:
            return await handler(request)
        suppressed = throttle.ready()
        if suppressed is not None:
            log.warning("refused %s %s from %s: %s%s", request.method, request.path[:80], request.remote,
                        why, f" ({suppressed} more refused since the last warning)" if suppressed else "")
        return web.Response(status=403, text=f"refused: {why}\n")

    return check_host_and_origin


class LogThrottle:
    """At most one log line per interval; `ready()` returns how many were held back since the last
    line when one may be written now, else None."""

    def __init__(self, interval: float = LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self.last: float | None = None
        self.held = 0

    def ready(self) -> int | None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.held += 1
            return None
        held, self.held, self.last = self.held, 0, now
        return held


class RateLimiter:
    """A per-client message budget in one-second windows. `allow()` says whether a message may be
    handled; `abusive` turns true once the client has gone over the budget in `abuse_seconds`
    consecutive windows."""

    def __init__(self, per_second: int = MAX_MESSAGES_PER_SECOND, abuse_seconds: int = ABUSE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second, self.abuse_seconds, self.clock = per_second, abuse_seconds, clock
        self.window_start = clock()
        self.count = 0
        self.over_streak = 0  # consecutive windows (the current one included) over the budget
        self.dropped = 0

    def allow(self) -> bool:
        now = self.clock()
        elapsed = now - self.window_start
        if elapsed >= 1.0:
            was_over = self.count > self.per_second
            self.over_streak = self.over_streak if was_over and elapsed < 2.0 else 0
            self.window_start, self.count = now, 0
        self.count += 1
        if self.count <= self.per_second:
            return True
        if self.count == self.per_second + 1:
            self.over_streak += 1
        self.dropped += 1
        return False

    def until_next_window(self) -> float:
        """Seconds until the budget renews: how long a flooding client's socket is left unread."""
        return max(0.0, self.window_start + 1.0 - self.clock())

    @property
    def abusive(self) -> bool:
        return self.over_streak >= self.abuse_seconds


def static_name_ok(name: str) -> bool:
    """A plain file name of the page's own folder: no separators, NUL, dot-files or huge names."""
    return bool(_STATIC_NAME.fullmatch(name)) and ".." not in name


def json_number(value: Any) -> bool:
    """A number that JSON can carry back to a browser unchanged (no NaN, Infinity or huge int)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _JSON_SAFE_INT
    return isinstance(value, float) and math.isfinite(value)


__all__ = ["ABUSE_SECONDS", "LogThrottle", "MAX_MESSAGES_PER_SECOND", "RateLimiter", "allowed_hosts",
           "interface_addresses", "is_wildcard", "json_number", "middleware", "reachable_urls", "refusal",
           "startup_lines", "static_name_ok"]
