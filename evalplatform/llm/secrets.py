"""Endpoint API keys: read from the environment, or stored encrypted, and never shown back.

Stored keys are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key
derived from ``EVAL_SECRETS_KEY`` (or, failing that, ``SECRET_KEY``), so a database dump or a
backup does not reveal them.  Nothing here returns a key to a page, an export or the API: the only
reader is ``api_key_for``, which the client uses when it builds its request.  ``redact`` removes a
key from any text an endpoint sends back (an error body that echoes the header) before it is stored
or logged.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from evalplatform.llm.models import ModelEndpoint


class SecretError(Exception):
    """The endpoint's key cannot be read (variable unset, or stored under another encryption key)."""


def _fernet() -> Fernet:
    material = getattr(settings, "EVAL_SECRETS_KEY", "") or settings.SECRET_KEY
    digest = hashlib.sha256(b"evalplatform.llm.secrets\x00" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> bytes:
    return _fernet().encrypt(value.encode())


def api_key_for(endpoint: ModelEndpoint) -> str:
    """The endpoint's API key; ``SecretError`` (naming the variable, never a value) if unavailable.

    An endpoint with no key at all gets a placeholder: local servers (vLLM, Ollama) want none, and
    the client insists on some string.
    """
    if endpoint.api_key_env:
        value = os.environ.get(endpoint.api_key_env, "")
        if not value:
            raise SecretError(f"the environment variable {endpoint.api_key_env} is not set")
        return value
    if endpoint.api_key_encrypted:
        try:
            return _fernet().decrypt(bytes(endpoint.api_key_encrypted)).decode()
        except InvalidToken as exc:
            raise SecretError("the stored key cannot be decrypted (EVAL_SECRETS_KEY or SECRET_KEY changed)") from exc
    return "no-key"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (4+ characters) replaced."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "[redacted]")
    return text
