"""KMS decryption of the fallback environment variables (``DB_PASSWORD_ENCRYPTED`` and friends).

The values are encrypted the way the Lambda console's encryption helpers do it: base64 of a KMS
ciphertext bound to the encryption context ``{"LambdaFunctionName": <function name>}``, so a
ciphertext copied to another function does not decrypt there.

The client comes from the caller (``aurora_sync.aws.client("kms", region)`` in the Lambdas).
Throttling, KMS-internal errors and network failures are transient (``adapters/aws_errors.py``); a
bad ciphertext, a wrong context, a disabled key or a missing grant are terminal
(``CredentialsError``). Messages name the variable, never the plaintext.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from aurora_sync.adapters.aws_errors import is_transient
from aurora_sync.errors import CredentialsError, TransientError

FUNCTION_NAME_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"


class KmsClient(Protocol):
    def decrypt(self, **kwargs: Any) -> Mapping[str, Any]: ...


def lambda_encryption_context(function_name: str | None = None) -> dict[str, str]:
    """The context the Lambda console encrypts environment variables with."""
    name = function_name or os.environ.get(FUNCTION_NAME_VARIABLE)
    if not name:
        raise CredentialsError(
            f"{FUNCTION_NAME_VARIABLE} is not set: the fallback ciphertexts are bound to the "
            "encryption context LambdaFunctionName=<function name>"
        )
    return {"LambdaFunctionName": name}


class KmsDecryptor:
    """Decrypts base64 ciphertexts; the client is built on first use."""

    def __init__(
        self,
        client_factory: Callable[[], KmsClient],
        *,
        function_name: str | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._client: KmsClient | None = None
        self._function_name = function_name

    def decrypt(self, ciphertext_b64: str, *, variable: str) -> bytes:
        """Plaintext bytes of the ciphertext held by environment variable ``variable``."""
        try:
            blob = base64.b64decode(ciphertext_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError(f"{variable} is not valid base64 (expected a KMS ciphertext)") from None
        if not blob:
            raise CredentialsError(f"{variable} is empty")
        context = lambda_encryption_context(self._function_name)
        response = self._call(
            variable, lambda client: client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        )
        plaintext = response.get("Plaintext")
        if not isinstance(plaintext, bytes | bytearray):
            raise CredentialsError(f"KMS decrypt of {variable} returned no plaintext")
        return bytes(plaintext)

    def decrypt_text(self, ciphertext_b64: str, *, variable: str) -> str:
        plaintext = self.decrypt(ciphertext_b64, variable=variable)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialsError(f"{variable} does not decrypt to UTF-8 text") from None

    def _call(self, variable: str, operation: Callable[[KmsClient], Mapping[str, Any]]) -> Mapping[str, Any]:
        try:
            if self._client is None:
                self._client = self._client_factory()
            return operation(self._client)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            detail = str(error.get("Message") or "")[:200]
            if is_transient(exc):
                raise TransientError(f"KMS decrypt of {variable} failed: {code} (retryable)") from exc
            message = f"KMS decrypt of {variable} failed: {code}{_hint(code)}: {detail}"
            raise CredentialsError(message) from exc
        except NoRegionError:
            raise CredentialsError(f"KMS decrypt of {variable}: no AWS region (AWS_REGION) is set") from None
        except BotoCoreError as exc:
            raise TransientError(f"KMS decrypt of {variable} failed: {type(exc).__name__}") from exc


def _hint(code: str) -> str:
    if code == "InvalidCiphertextException":
        return " (corrupt ciphertext, or encrypted for another function / encryption context)"
    if code == "AccessDeniedException":
        return " (the execution role lacks kms:Decrypt on the key)"
    if code in {"DisabledException", "KMSInvalidStateException", "NotFoundException"}:
        return " (the key is disabled, pending deletion or gone)"
    return ""
