"""HTTPS for the fake: a throwaway certificate authority made with ``trustme``."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

__all__ = ["FakeCA"]


class FakeCA:
    """A fresh CA and a server certificate for the fake's hosts, its PEM written to a file.

    :param hosts: the names and addresses the certificate covers.
    """

    def __init__(self, hosts: list[str]) -> None:
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - part of the testing extra
            raise RuntimeError(
                "FakeTogether(tls=True) needs trustme: pip install 'together-finetune[testing]'"
            ) from exc
        ca = trustme.CA()
        certificate = ca.issue_cert(*dict.fromkeys(hosts))
        #: the server side of the fake's TLS
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.server_context)
        self._directory = Path(tempfile.mkdtemp(prefix="fake-together-ca-"))
        #: the CA certificate (PEM) a client must trust
        self.bundle = self._directory / "ca.pem"
        ca.cert_pem.write_to_path(str(self.bundle))

    def remove(self) -> None:
        """Delete the CA file."""
        shutil.rmtree(self._directory, ignore_errors=True)
