"""How the services' domain errors become HTTP answers in the API.

Services raise Django ``ValidationError`` (or their own exceptions) with messages meant for people;
views translate them here so every endpoint answers the same way: 400 with field-level messages
(``non_field_errors`` when no field is to blame), 409 when the request is well-formed but the
object's state refuses it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.settings import api_settings


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of this object."
    default_code = "conflict"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def invalid(exc: DjangoValidationError) -> ValidationError:
    """A service's ``ValidationError`` as DRF's: field-keyed when it was, else ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})


def conflict(exc: Exception) -> Conflict:
    messages = getattr(exc, "messages", None) or [str(exc)]
    return Conflict(" ".join(messages))
