"""URL downloads for ingest, with SSRF protection.

URL safety: only http/https; the host is resolved and every address must be public
(private, loopback, link-local incl. 169.254.169.254, CGNAT, reserved, multicast,
unspecified, and IPv4-mapped/6to4/NAT64 forms of those are refused) unless the host name,
or a CIDR containing the address, is in ``url_allowlist``. The connection goes to the
checked address (with the original Host header and TLS server name), so DNS rebinding
between check and connect is not possible. Redirects are followed by hand (at most 5),
each hop checked the same way. No proxy is used and no compressed transfer encoding is
requested, so ``max_bytes`` counts the real bytes.

The download goes to a temporary file, which the readers then treat like an upload.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..errors import Invalid
from .options import _CONTENT_TYPES, _EXTENSIONS, FORMATS, _normalize_format
from .sources import Progress, _Meter, _quota

_URL_TIMEOUT = 30.0
_MAX_REDIRECTS = 5


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses a server-side fetch must not reach without an allowlist entry."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _forbidden(embedded)
        if ip.teredo:
            return True
    elif ip in _CGNAT:
        return True
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


@dataclass
class _Allowlist:
    hosts: set[str]
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> _Allowlist:
        if isinstance(entries, str):
            entries = [entries]
        hosts: set[str] = set()
        networks = []
        for entry in entries:
            text = str(entry).strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(hosts, networks)

    def allows(self, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)
        return host in self.hosts or any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


def _mask_url(url: str) -> str:
    """The URL without password or query-string values (they often carry tokens)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _resolve_checked(host: str, port: int, allow: _Allowlist, shown: str) -> list[str]:
    try:
        literal = ipaddress.ip_address(host)
        addresses = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Invalid(f"The host '{host}' could not be found ({exc}).", url=shown) from None
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    for ip in addresses:
        if _forbidden(ip) and not allow.allows(host.lower().rstrip("."), ip):
            raise Invalid(
                f"Refusing to download from {shown}: '{host}' points to {ip}, a private, local "
                "or reserved network address. Imports may only read public web addresses; an "
                "administrator can allow specific internal hosts.",
                url=shown,
                address=str(ip),
            )
    return [str(ip) for ip in addresses]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an already-checked IP address while speaking to ``host``."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked IP; the certificate is verified against the original host name."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass
class _Download:
    spool: IO[bytes]
    size: int
    content_type: str
    filename: str | None
    final_url: str


def _download(
    url: str,
    allow: _Allowlist,
    meter: _Meter,
    timeout: float,
    progress: Progress | None,
) -> _Download:
    deadline = time.monotonic() + 20 * timeout
    current = url
    for _hop in range(_MAX_REDIRECTS + 1):
        shown = _mask_url(current)
        parts = urlsplit(current)
        if parts.scheme.lower() not in ("http", "https"):
            raise Invalid(f"Only http and https URLs can be imported, not {shown}.", url=shown)
        host = parts.hostname
        if not host:
            raise Invalid(f"The URL {shown} has no host name.", url=shown)
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise Invalid(f"The URL {shown} has an invalid port.", url=shown) from None
        ips = _resolve_checked(host, port, allow, shown)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn_cls = (
            _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
        )
        response, conn = None, None
        error: Exception | None = None
        for ip in ips:
            conn = conn_cls(host, port, ip, timeout)
            try:
                headers = {"User-Agent": "AstralytiQ-ingest/1", "Accept-Encoding": "identity"}
                if parts.username:
                    token = f"{parts.username}:{parts.password or ''}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                error = exc
        if response is None or conn is None:
            reason = "timed out" if isinstance(error, TimeoutError) else str(error)
            raise Invalid(f"Could not download {shown}: {reason}.", url=shown) from None
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise Invalid(f"{shown} redirects without saying where to.", url=shown)
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise Invalid(
                    f"The server answered {response.status} {response.reason} for {shown}.",
                    url=shown,
                    status=response.status,
                )
            length = response.getheader("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and meter.limit is not None and total > meter.limit:
                raise _quota(meter.limit)
            spool = tempfile.TemporaryFile(prefix="astralytiq-download-")  # noqa: SIM115
            try:
                while True:
                    if time.monotonic() > deadline:
                        raise Invalid(f"Downloading {shown} took too long.", url=shown)
                    chunk = response.read(1024 * 1024)
                    if not chunk:
                        break
                    meter.add(len(chunk))
                    spool.write(chunk)
                    if progress is not None:
                        progress(meter.count, total)
            except (OSError, http.client.HTTPException) as exc:
                spool.close()
                raise Invalid(f"The download of {shown} failed: {exc}.", url=shown) from None
            except BaseException:
                spool.close()
                raise
            if total is not None and spool.tell() != total:
                # http.client returns what came before the connection closed, without error.
                received = spool.tell()
                spool.close()
                raise Invalid(
                    f"The download of {shown} is incomplete: the server announced {total:,} "
                    f"bytes and sent {received:,}. Nothing was stored; try again.",
                    url=shown,
                    expected=total,
                    received=received,
                )
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            return _Download(
                spool, spool.tell(), content_type, response.headers.get_filename(), current
            )
        finally:
            conn.close()
    raise Invalid(
        f"Too many redirects (more than {_MAX_REDIRECTS}) starting at {_mask_url(url)}.",
        url=_mask_url(url),
    )


def _url_format(fmt: str | None, download: _Download, shown: str) -> str:
    if fmt:
        return _normalize_format(fmt)
    for name in (urlsplit(download.final_url).path, download.filename or ""):
        ext = os.path.splitext(name.lower())[1]
        if ext in _EXTENSIONS:
            return _EXTENSIONS[ext]
    if download.content_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[download.content_type]
    raise Invalid(
        f"Cannot tell the format of {shown} (content type '{download.content_type or 'none'}'). "
        f"Choose the format explicitly: {', '.join(FORMATS)}.",
        url=shown,
    )
