"""A browser's side of a Web Push subscription, for tests: the key pair and auth secret a
browser makes in PushManager.subscribe(), and the decryption (RFC 8291) it does when a push
arrives. The fake push service cannot decrypt; a test that made the keys can."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class BrowserKeys:
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def endpoint(self, base: str = "https://push.example.net") -> str:
        return f"{base}/push/{self.token}"

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return json.loads(plain)
