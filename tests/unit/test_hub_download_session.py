"""The body of a download through huggingface_hub's own session: redirects and the token
across origins, the hub's error types, resuming after a reset, HTTPS with certificate
checks, and proxies taken from the environment."""

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
from huggingface_hub import close_session, hf_raise_for_status
from huggingface_hub.errors import HfHubHTTPError

from hubserver import STARTER_REPO, HubServer, serving_starter
from tokenwise.core.models import download, hub

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with serving_starter(starter_model_path) as server:
        yield server


@pytest.fixture
def new_session() -> Iterator[None]:
    """The session reads proxies and certificates when it is made: make it again for the
    test's environment, and once more afterwards for the next test's."""
    close_session()
    yield
    close_session()


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


def test_a_redirect_within_the_origin_keeps_the_token_and_the_range(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    hub_server.add_repo("google/Gated-GGUF", {"gated.gguf": starter_model_path},
                        gated=True, token="hf_ok")
    hub.save_token("hf_ok")
    hub_server.faults.redirect_to = hub_server.url
    hub_server.faults.drop_after["gated.gguf"] = 30_000_000
    path = download.download_file("google/Gated-GGUF", "gated.gguf", retry_delay_s=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    gets = hub_server.gets("gated.gguf")
    assert [(e.status, e.authorized) for e in gets] == [
        (302, True), (200, True), (302, True), (206, True)]
    assert gets[2].range_start is None  # the resolve URL only redirects
    assert gets[2].headers["range"] == f"bytes={gets[3].range_start}-"
    assert 0 < gets[3].range_start <= 30_000_000  # type: ignore[operator]


def test_the_get_carries_what_the_session_sends(
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
    with download.open_stream(url, {}) as response, pytest.raises(HfHubHTTPError) as raised:
        hf_raise_for_status(response)
    assert raised.value.response.status_code == status
    with pytest.raises(error, match=str(status)):
        download.download_file(STARTER_REPO, name)
    assert hub_server.gets(name)[-1].status == status


def test_a_refused_connection_is_an_httpx_connect_error(hub_server: HubServer) -> None:
    with pytest.raises(httpx2.ConnectError), download.open_stream(
        "http://127.0.0.1:9/some/file", {}
    ):
        pass


def test_downloads_go_through_the_proxy_named_in_the_environment(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str,
    monkeypatch: pytest.MonkeyPatch, new_session: None,
) -> None:
    name = starter_model_path.name
    # a host name nothing resolves: only the proxy (the loopback server) can answer for it
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")
    monkeypatch.setenv("HTTP_PROXY", hub_server.url)
    close_session()
    hub_server.faults.drop_after[name] = 30_000_000
    path = download.download_file(STARTER_REPO, name, retry_delay_s=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    assert hub_server.log
    assert all(e.proxied for e in hub_server.log)
    assert {e.headers["host"] for e in hub_server.log} == {"hub.invalid"}
    first, second = hub_server.gets(name)
    assert (first.bytes_sent, second.status) == (30_000_000, 206)
    assert 0 < second.range_start <= 30_000_000  # type: ignore[operator]


def test_no_proxy_sends_the_hub_past_the_proxy(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str,
    monkeypatch: pytest.MonkeyPatch, new_session: None,
) -> None:
    name = starter_model_path.name
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    close_session()
    path = download.download_file(STARTER_REPO, name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    assert not [e for e in hub_server.log if e.proxied]

    monkeypatch.delenv("NO_PROXY")
    close_session()
    with pytest.raises(hub.HubOfflineError):
        download.download_file(STARTER_REPO, name, retry_delay_s=0)
    with pytest.raises(httpx2.ConnectError), download.open_stream(
        f"{hub_server.url}/{STARTER_REPO}/resolve/main/{name}", {}
    ):
        pass
    assert len(hub_server.gets(name)) == 1  # the refused proxy stopped the others


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
    tmp_path: Path, starter_model_path: Path, monkeypatch: pytest.MonkeyPatch,
    new_session: None,
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
    close_session()  # the session builds its trust store again, from SSL_CERT_FILE
    server = HubServer().start(tls=context)
    server.add_repo(STARTER_REPO, {starter_model_path.name: starter_model_path})
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        yield server
    finally:
        server.stop()


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
    close_session()
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"), (
        download.open_stream(f"{tls_server.url}/{STARTER_REPO}/resolve/main/{name}", {})
    ):
        pass
    assert [g.status for g in tls_server.gets(name)] == [200]
