"""The body of a download: one GET, read straight into reusable buffers.

huggingface_hub stays in charge of everything about a download except moving its bytes:
the URL (``hf_hub_url``), the headers and token (``build_hf_headers``), the metadata
(``get_hf_file_metadata``), the status errors (``hf_raise_for_status``, fed an
``httpx2.Response`` made from our status line, headers and error body) and the exception
types (network failures surface as ``httpx2`` transport errors, as from its session).

The body itself is read with the standard library's ``http.client`` because the session
is slow per byte: httpcore reads 64 KiB at a time and h11 copies every piece through its
own buffer. Measured side by side on the loopback server (2 busy cores, 98 MB), a bare
session stream that discards the bytes ran at about curl's speed, 0.4-0.6x curl once
the bytes were also hashed and written, while ``HTTPResponse.readinto`` into a reused
buffer took a fifth of the session's time, leaving the CPU to sha256 and the disk.
The request carries what the session would send (its default headers and cookies, with
its request hooks applied), follows redirects like the session (at most
MAX_REDIRECTS; Authorization dropped when the origin changes, except for an http->https
upgrade of the same host), trusts the same certificates (``httpx2.create_ssl_context``,
which honours SSL_CERT_FILE / SSL_CERT_DIR) and has the same timeouts. One difference:
the GET opens its own connection instead of reusing the session's pooled one.
When a proxy applies to the URL the body goes through the session instead,
since it knows the proxy settings and http.client does not.
"""

from __future__ import annotations

import functools
import http.client
import ssl
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import httpx2

CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 30.0
MAX_REDIRECTS = 20
ERROR_BODY_LIMIT = 1 << 20
REDIRECTS = {301, 302, 303, 307, 308}


class Body(Protocol):
    """An open GET whose status and headers arrived; the body is read on demand."""

    status_code: int

    def raise_for_status(self) -> None: ...

    def readinto(self, view: memoryview) -> int:
        """Fill the start of ``view``; 0 at the end of the body."""
        ...

    def close(self) -> None: ...


def uses_proxy(url: str) -> bool:
    """Whether the environment (or the system settings) route ``url`` through a proxy."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def open_body(url: str, headers: dict[str, str]) -> Body:
    """GET ``url`` with ``headers``; network failures raise httpx2 transport errors."""
    if uses_proxy(url):
        return _SessionBody(url, headers)
    return _open_direct(url, headers)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    import httpx2

    return httpx2.create_ssl_context()


def _request(url: str) -> httpx2.Request:
    import httpx2

    return httpx2.Request("GET", url)


def _transport_error(exc: BaseException, url: str, *, connecting: bool) -> Exception:
    """The httpx2 exception the session would have raised for ``exc``."""
    import httpx2

    request = _request(url)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        kind: type[httpx2.TransportError] = (
            httpx2.ConnectTimeout if connecting else httpx2.ReadTimeout
        )
    elif isinstance(exc, http.client.HTTPException):
        kind = httpx2.RemoteProtocolError
    else:
        kind = httpx2.ConnectError if connecting else httpx2.ReadError
    return kind(message, request=request)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _keeps_auth(old: str, new: str) -> bool:
    (scheme, host, port), (new_scheme, new_host, new_port) = _origin(old), _origin(new)
    if (scheme, host, port) == (new_scheme, new_host, new_port):
        return True
    upgrade = scheme == "http" and new_scheme == "https" and host == new_host
    return upgrade and port in (80, None) and new_port in (443, None)


def _session_headers(url: str, headers: dict[str, str]) -> dict[str, str]:
    """What the session would send: its default headers and cookies, then its request hooks
    (huggingface_hub's adds a request id and refuses requests in offline mode)."""
    from huggingface_hub import get_session

    session = get_session()
    request = session.build_request("GET", url, headers=headers)
    for hook in session.event_hooks["request"]:
        hook(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def _open_direct(url: str, headers: dict[str, str]) -> Body:
    headers = _session_headers(url, headers)
    for _ in range(MAX_REDIRECTS + 1):
        body = _DirectBody(url, headers)
        location = body.redirect_location()
        if location is None:
            return body
        body.close()
        target = urljoin(url, location)
        if not _keeps_auth(url, target):
            for key in [k for k in headers if k.lower() == "authorization"]:
                del headers[key]
        url = target
    import httpx2

    raise httpx2.TooManyRedirects("Exceeded maximum allowed redirects.", request=_request(url))


class _DirectBody:
    """One http.client connection for one GET, closed with the body (no reuse)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            import httpx2

            raise httpx2.UnsupportedProtocol(f"Cannot download from {url!r}.")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S, context=_ssl_context()
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S
            )
        self.connection = connection
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _transport_error(exc, url, connecting=True) from None
        try:
            assert connection.sock is not None
            connection.sock.settimeout(READ_TIMEOUT_S)
            connection.request("GET", target, headers=headers)
            self.response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _transport_error(exc, url, connecting=False) from None
        self.status_code = self.response.status

    def redirect_location(self) -> str | None:
        if self.status_code in REDIRECTS:
            return self.response.getheader("Location")
        return None

    def raise_for_status(self) -> None:
        """huggingface_hub's own verdict on the status, with its error types."""
        if self.status_code < 400:
            return
        import httpx2
        from huggingface_hub import hf_raise_for_status

        try:
            content = self.response.read(ERROR_BODY_LIMIT)
        except (OSError, http.client.HTTPException):
            content = b""
        headers = [(k, v) for k, v in self.response.getheaders() if k.lower() not in (
            "content-length", "transfer-encoding", "content-encoding")]
        response = httpx2.Response(
            self.status_code, headers=headers, content=content, request=_request(self.url)
        )
        hf_raise_for_status(response)

    def readinto(self, view: memoryview) -> int:
        try:
            return self.response.readinto(view)
        except (OSError, http.client.HTTPException) as exc:
            raise _transport_error(exc, self.url, connecting=False) from None

    def close(self) -> None:
        self.connection.close()


class _SessionBody:
    """The same GET through huggingface_hub's session, for proxied URLs."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        import httpx2
        from huggingface_hub import get_session

        self._stream = get_session().stream(
            "GET", url, headers=headers,
            timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )
        self.response = self._stream.__enter__()
        self.status_code = self.response.status_code
        self._chunks: Iterator[bytes] = self.response.iter_raw()
        self._left = memoryview(b"")

    def raise_for_status(self) -> None:
        from huggingface_hub import hf_raise_for_status

        hf_raise_for_status(self.response)

    def readinto(self, view: memoryview) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        n = min(len(view), len(self._left))
        view[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def close(self) -> None:
        self._stream.__exit__(None, None, None)
