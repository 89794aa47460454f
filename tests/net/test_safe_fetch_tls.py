"""https through the checked connection: the client connects to the checked address, yet
TLS verifies the certificate for the URL's host and sends it as SNI, and the Host header
is the URL's (a self-signed certificate made here, trusted by this client only)."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labelhouse.errors import FetchFailed
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import IMAGE_TYPES, FetchPolicy, SafeFetcher
from tests.media_server import PNG


def certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Seen:
    sni: list[str | None] = []
    hosts: list[str] = []


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    cert, key = certificate(tmp_path_factory.mktemp("tls"), "images.test")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            Seen.hosts.append(self.headers.get("Host", ""))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: Seen.sni.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], cert
    httpd.shutdown()
    httpd.server_close()


def client(cert: Path) -> SafeFetcher:
    policy = FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32")))
    trusted = ssl.create_default_context(cafile=str(cert))
    names = {"images.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    return SafeFetcher(policy, resolver=lambda host, port: names[host], ssl_context=trusted)


def test_https_to_the_checked_address_keeps_sni_and_host(tls_server):
    port, cert = tls_server
    url = f"https://images.test:{port}/img.png"
    assert client(cert).read(url, accept=IMAGE_TYPES) == PNG
    assert Seen.sni[-1] == "images.test"
    assert Seen.hosts[-1] == f"images.test:{port}"


def test_a_certificate_for_another_name_is_refused(tls_server):
    """The name the DNS trick points at the same address still has to match the
    certificate: TLS checks the URL's host, not the address connected to."""
    port, cert = tls_server
    with pytest.raises(FetchFailed) as failed:
        client(cert).read(f"https://other.test:{port}/img.png", accept=IMAGE_TYPES)
    assert failed.value.host == "other.test"
    assert failed.value.reason == "its TLS certificate could not be verified"
