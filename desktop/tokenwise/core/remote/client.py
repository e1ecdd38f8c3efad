"""HTTP to an inference server: JSON requests, server-sent event streams, clear errors.

One RemoteClient per server: its base URL, the API key (sent as a bearer token, never
logged), and an optional CA certificate for a self-signed server. Every failure becomes a
RemoteError whose message says what went wrong in the user's words: connection refused,
TLS, a refused key, an unknown model, a timeout, a stream cut short.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.i18n import _, gap

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # a big prompt on a busy server takes a while before its first token
STREAM_HEADERS = {"Accept": "text/event-stream", "Connection": "close"}


class RemoteError(TokenwiseError):
    """A server could not be reached or refused a request."""


class AuthError(RemoteError):
    """The server refused the API key (401/403)."""


class UnknownModelError(RemoteError):
    """The server does not serve the model asked for."""


class StreamCutError(RemoteError):
    """The server closed the stream before the reply ended."""


class NotFoundError(RemoteError):
    """The server has no such endpoint (404 without a model named)."""


class StatusError(RemoteError):
    """Another error status."""


class BadAnswerError(RemoteError):
    """An answer that is not JSON where JSON was due."""


def normalise_url(url: str) -> str:
    """The base URL without a trailing slash or a trailing /v1 (added per endpoint)."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    if "://" not in url:
        url = "http://" + url
    return url


class RemoteClient:
    """A connection pool to one server. Thread-safe for separate requests."""

    def __init__(self, base_url: str, *, api_key: str | None = None, ca_cert: str = "",
                 timeout: float = READ_TIMEOUT_S, connect_timeout: float = CONNECT_TIMEOUT_S
                 ) -> None:
        self.base_url = normalise_url(base_url)
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        verify: ssl.SSLContext | bool = True
        if ca_cert:
            try:
                verify = ssl.create_default_context(cafile=ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise RemoteError(_("The CA certificate {path} cannot be read: {error}.")
                                  .format(path=ca_cert,
                                          error=getattr(exc, "strerror", None) or exc)) from exc
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._http = httpx2.Client(
            base_url=self.base_url, headers=headers, verify=verify,
            timeout=httpx2.Timeout(timeout, connect=connect_timeout), follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def get_json(self, path: str, *, model: str = "") -> Any:
        with self._errors(path, model):
            response = self._http.get(path)
            _check(response, path, model)
            return _json(response, path)

    def post_json(self, path: str, body: dict[str, Any], *, model: str = "") -> Any:
        with self._errors(path, model):
            response = self._http.post(path, json=body)
            _check(response, path, model)
            return _json(response, path)

    def exists(self, method: str, path: str, body: dict[str, Any] | None = None) -> bool:
        """Whether the server answers ``path`` with something other than 404/405/501."""
        with self._errors(path, ""):
            response = self._http.request(method, path, json=body)
        if response.status_code in (401, 403):
            _check(response, path, "")
        return response.status_code not in (404, 405, 501)

    def stream(self, path: str, body: dict[str, Any], *, model: str = "",
               cancel: threading.Event | None = None) -> Generator[Any, None, None]:
        """The JSON objects of a server-sent event stream, up to ``[DONE]``.

        A set ``cancel`` closes the response at once, from a watcher thread, and the
        iterator ends quietly; a stream that breaks off raises StreamCutError.
        """
        done = threading.Event()
        # a fresh connection per stream: llama-server closes it after a stream, and a pooled
        # one could be reused before its close is seen ("disconnected without a response")
        with self._errors(path, model), self._http.stream(
                "POST", path, json=body, headers=STREAM_HEADERS) as response:
            if response.status_code >= 400:
                response.read()
                _check(response, path, model)
            kind = response.headers.get("content-type", "").partition(";")[0].strip()
            if kind != "text/event-stream":
                response.read()
                yield _json(response, path)  # a server that answers a stream in one piece
                return
            watcher = None
            if cancel is not None:
                watcher = threading.Thread(target=_close_on_cancel,
                                           args=(cancel, done, response), daemon=True,
                                           name="tokenwise-remote-cancel")
                watcher.start()
            try:
                for event in httpx2.EventSource(response):
                    data = event.data
                    if not data:
                        continue
                    if data.strip() == "[DONE]":
                        return
                    try:
                        item = json.loads(data)
                    except ValueError as exc:
                        raise BadAnswerError(_("The server sent an event that is not JSON "
                                               "({data}).").format(data=repr(data[:80]))
                                             ) from exc
                    if isinstance(item, dict) and "error" in item and len(item) <= 2:
                        raise RemoteError(_("The server stopped with an error: {error}")
                                          .format(error=_error_text(item)))
                    yield item
            except (httpx2.TransportError, httpx2.StreamError) as exc:
                if cancel is not None and cancel.is_set():
                    return
                if isinstance(exc, httpx2.TimeoutException):
                    raise RemoteError(_("The server stopped answering for {seconds} s "
                                        "mid-reply.").format(seconds=f"{self.timeout:.0f}")
                                      ) from exc
                raise StreamCutError(_("The server closed the connection mid-reply "
                                       "({error}).").format(error=type(exc).__name__)) from exc
            finally:
                done.set()
                if watcher is not None:
                    watcher.join()
        # a stream that ends without [DONE] is accepted: not every server sends it

    @contextmanager
    def _errors(self, path: str, model: str) -> Iterator[None]:
        """Transport failures, in the user's words."""
        try:
            yield
        except RemoteError:
            raise
        except httpx2.ConnectTimeout as exc:
            raise RemoteError(_("{url} did not answer within {seconds} s (is the address "
                                "right?).").format(url=self.base_url,
                                                   seconds=f"{self.connect_timeout:g}")
                              ) from exc
        except httpx2.TimeoutException as exc:
            raise RemoteError(_("{url} did not answer {path} within {seconds} s.").format(
                url=self.base_url, path=path, seconds=f"{self.timeout:.0f}")) from exc
        except httpx2.ConnectError as exc:
            raise _connect_error(self.base_url, exc) from exc
        except httpx2.TransportError as exc:
            raise RemoteError(_("The connection to {url} failed: {error}.").format(
                url=self.base_url, error=exc or type(exc).__name__)) from exc


def _close_on_cancel(cancel: threading.Event, done: threading.Event,
                     response: httpx2.Response) -> None:
    while not done.is_set():
        if cancel.wait(0.02):
            if not done.is_set():
                try:
                    response.close()
                except Exception as exc:  # closing a socket mid-read: nothing to report
                    log.debug("remote: closing the stream: %s", type(exc).__name__)
            return


def _connect_error(base_url: str, exc: Exception) -> RemoteError:
    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            text = str(cause)
            break
        cause = cause.__cause__ or cause.__context__
    lowered = text.lower()
    if cause is not None or "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        hint = (gap() + _("The server's certificate is not trusted: choose its CA certificate "
                          "in the server's settings.")
                if "certificate" in lowered or "verify" in lowered else "")
        return RemoteError(_("TLS failed with {url}: {error}.").format(url=base_url, error=text)
                           + hint)
    if "refused" in lowered or "errno 111" in lowered:
        return RemoteError(_("Connection refused by {url}: is the server running, and is the "
                             "port right?").format(url=base_url))
    if "name or service" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
        return RemoteError(_("The host of {url} cannot be found.").format(url=base_url))
    return RemoteError(_("Cannot connect to {url}: {error}.").format(
        url=base_url, error=text or type(exc).__name__))


def _json(response: httpx2.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BadAnswerError(_("The server's answer to {path} is not JSON ({text}).").format(
            path=path, text=repr(response.text[:80]))) from exc


def _error_text(data: Any) -> str:
    """The message inside an OpenAI-style, FastAPI or plain error body."""
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if isinstance(error, list):  # FastAPI's validation errors
            error = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e)
                              for e in error)
        if error is not None:
            return str(error).strip().splitlines()[0] if str(error).strip() else ""
    return str(data)[:200]


def _check(response: httpx2.Response, path: str, model: str) -> None:
    status = response.status_code
    if status < 400:
        return
    try:
        detail = _error_text(response.json())
    except ValueError:
        detail = response.text.strip()[:200]
    lowered = detail.lower()
    if status in (401, 403):
        raise AuthError(_("The server refused the API key ({status}). Check the key in the "
                          "server's settings.").format(
                              status=f"{status}: {detail}" if detail else status))
    if model and ("model" in lowered and ("not found" in lowered or "does not exist" in lowered
                                          or "unknown" in lowered or "not exist" in lowered)):
        raise UnknownModelError(_("The server does not serve the model {model} ({detail}).")
                                .format(model=repr(model), detail=detail or status))
    if status == 404:
        if model and "model" in lowered:
            raise UnknownModelError(_("The server does not serve the model {model} ({detail}).")
                                    .format(model=repr(model), detail=detail))
        raise NotFoundError(_("The server has no {path} ({status}).").format(path=path,
                                                                               status=status))
    raise StatusError(_("The server answered {path} with {status}.").format(
        path=path, status=f"{status}: {detail}" if detail else status))
