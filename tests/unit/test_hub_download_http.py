"""The body of a download read by http.client (or, behind a proxy, huggingface_hub's
session): redirects, credentials across origins, hub error types, resuming after a reset,
HTTPS with certificate checks, the session fallback behind a proxy."""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from huggingface_hub import close_session
from huggingface_hub.errors import HfHubHTTPError

from hubserver import STARTER_REPO, HubServer, serving_starter
from tokenwise.core.models import download, download_http, hub


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serving_starter(starter_model_path) as server:
        yield server


@pytest.fixture(scope="module")
def starter_sha(starter_model_path: Path) -> str:
    return hashlib.sha256(starter_model_path.read_bytes()).hexdigest()


def test_a_redirect_to_another_origin_is_followed_without_the_token(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    hub_server.add_repo("google/Gated-GGUF", {"gated.gguf": starter_model_path},
                        gated=True, token="hf_ok")
    hub.save_token("hf_ok")
    port = urlsplit(hub_server.url).port
    hub_server.faults.redirect_to = f"http://localhost:{port}"  # same server, other origin
    path = download.download_file("google/Gated-GGUF", "gated.gguf")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    resolve, cdn = hub_server.gets("gated.gguf")
    assert (resolve.status, resolve.authorized) == (302, True)
    assert cdn.path == "/cdn/google/Gated-GGUF/gated.gguf"
    assert (cdn.status, cdn.authorized, cdn.bytes_sent) == (
        200, False, starter_model_path.stat().st_size)


def test_a_redirect_within_the_origin_keeps_the_token(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    hub_server.add_repo("google/Gated-GGUF", {"gated.gguf": starter_model_path},
                        gated=True, token="hf_ok")
    hub_server.faults.redirect_to = hub_server.url
    url = f"{hub_server.url}/google/Gated-GGUF/resolve/main/gated.gguf"
    body = download_http.open_body(url, {"Authorization": "Bearer hf_ok", "Range": "bytes=100-"})
    body.close()
    assert [(e.status, e.authorized) for e in hub_server.gets("gated.gguf")] == [
        (302, True), (206, True)]
    assert hub_server.gets("gated.gguf")[-1].range_start == 100


def test_the_get_carries_what_the_session_would_send(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    name = starter_model_path.name
    download.download_file(STARTER_REPO, name)
    (head,) = [e for e in hub_server.log if e.method == "HEAD"]
    (get,) = hub_server.gets(name)
    for key in ("user-agent", "accept"):  # huggingface_hub's and its session's defaults
        assert get.headers[key] == head.headers[key]
    assert "hf_hub/" in get.headers["user-agent"]
    assert get.headers["accept-encoding"] == "identity"
    trace = get.headers["x-amzn-trace-id"]  # added by huggingface_hub's request hook
    assert trace and trace != head.headers["x-amzn-trace-id"]


@pytest.mark.parametrize(("status", "error"), [
    (404, hub.HubNotFoundError), (403, hub.HubAuthError), (500, hub.HubError)])
def test_a_refused_get_raises_the_hub_error_types(
    hub_server: HubServer, starter_model_path: Path, status: int, error: type[Exception]
) -> None:
    name = starter_model_path.name
    hub_server.faults.get_status[name] = status
    url = f"{hub_server.url}/{STARTER_REPO}/resolve/main/{name}"
    body = download_http.open_body(url, {})
    with pytest.raises(HfHubHTTPError) as raised:
        body.raise_for_status()
    body.close()
    assert raised.value.response.status_code == status
    with pytest.raises(error, match=str(status)):
        download.download_file(STARTER_REPO, name)
    assert hub_server.gets(name)[-1].status == status


def test_a_refused_connection_is_an_httpx_connect_error(hub_server: HubServer) -> None:
    with pytest.raises(httpx2.ConnectError):
        download_http.open_body("http://127.0.0.1:9/some/file", {})


def test_behind_a_proxy_the_body_goes_through_the_session(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = starter_model_path.name
    opened: list[str] = []
    real = download_http._SessionBody

    def session_body(url: str, headers: dict[str, str]) -> download_http.Body:
        opened.append(url)
        return real(url, headers)

    monkeypatch.setattr(download_http, "uses_proxy", lambda url: True)
    monkeypatch.setattr(download_http, "_SessionBody", session_body)
    hub_server.faults.drop_after[name] = 30_000_000
    path = download.download_file(STARTER_REPO, name, retry_delay_s=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    assert len(opened) == 2
    first, second = hub_server.gets(name)
    assert (first.bytes_sent, second.status) == (30_000_000, 206)


def test_proxy_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not download_http.uses_proxy("https://hub.example/a/b/resolve/main/x.gguf")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert download_http.uses_proxy("https://hub.example/a/b/resolve/main/x.gguf")
    assert not download_http.uses_proxy("http://hub.example/a/b/resolve/main/x.gguf")
    monkeypatch.setenv("NO_PROXY", "hub.example")
    assert not download_http.uses_proxy("https://hub.example/a/b/resolve/main/x.gguf")


def test_a_reset_connection_resumes_from_the_bytes_written_and_hashed(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    name = starter_model_path.name
    hub_server.faults.drop_after[name] = 30_000_000 + 12_345  # mid-buffer
    hub_server.faults.reset = True
    path = download.download_file(STARTER_REPO, name, retry_delay_s=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    first, second = hub_server.gets(name)
    assert first.bytes_sent == 30_000_000 + 12_345
    assert second.status == 206
    assert 0 < second.range_start <= first.bytes_sent  # type: ignore[operator]
    assert second.range_start + second.bytes_sent == starter_model_path.stat().st_size  # type: ignore[operator]


@pytest.fixture
def tls_server(
    tmp_path: Path, starter_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HubServer]:
    """The hub server over HTTPS with a self-signed certificate the client is told to trust."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    close_session()  # both clients build their trust store again, from SSL_CERT_FILE
    download_http._ssl_context.cache_clear()
    server = HubServer().start(tls=context)
    server.add_repo(STARTER_REPO, {starter_model_path.name: starter_model_path})
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        yield server
    finally:
        server.stop()
        close_session()
        download_http._ssl_context.cache_clear()


def test_https_downloads_check_the_certificate(
    tls_server: HubServer, starter_model_path: Path, starter_sha: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = starter_model_path.name
    assert tls_server.url.startswith("https://127.0.0.1:")
    path = download.download_file(STARTER_REPO, name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    assert [g.status for g in tls_server.gets(name)] == [200]

    monkeypatch.delenv("SSL_CERT_FILE")  # the system's trust store knows no such certificate
    download_http._ssl_context.cache_clear()
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        download_http.open_body(f"{tls_server.url}/{STARTER_REPO}/resolve/main/{name}", {})
    assert [g.status for g in tls_server.gets(name)] == [200]
