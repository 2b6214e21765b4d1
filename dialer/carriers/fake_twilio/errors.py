"""Twilio's REST errors, with the codes and messages its clients test for.

The body keeps Twilio's legacy shape (code, message, more_info, status): a body
with RFC 9457 keys would make twilio-python raise a different exception class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_DOCS = "http://www.twilio.com/docs/api/twiml"


@dataclass
class ApiError(Exception):
    """A request the stand-in refuses, as Twilio would refuse it."""

    status: int
    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def authenticate() -> ApiError:
    return ApiError(401, 20003, "Authenticate")


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {path} was not found")


def too_many_requests() -> ApiError:
    return ApiError(429, 20429, "Too Many Requests")


def invalid_parameter(name: str, value: str) -> ApiError:
    # Twilio's exact code for a bad enum value varies by parameter; 20001 is its generic one.
    return ApiError(400, 20001, f"Invalid value for {name}: {value!r}")


def missing_to() -> ApiError:
    return ApiError(400, 21201, "No 'To' number is specified")


def missing_from() -> ApiError:
    return ApiError(400, 21213, "No 'From' number is specified")


def invalid_to(number: str) -> ApiError:
    return ApiError(400, 21211, f"Invalid 'To' Phone Number: {number}")


def invalid_from(number: str) -> ApiError:
    return ApiError(400, 21212, f"Invalid From Number (caller ID): {number}")


def from_not_owned(number: str) -> ApiError:
    return ApiError(
        400,
        21210,
        f"The source phone number provided, {number}, is not yet verified for your account. You may only "
        "make calls from phone numbers that you've verified or purchased from Twilio.",
    )


def missing_url() -> ApiError:
    return ApiError(400, 21205, f"Url parameter is required. For more information, see {API_DOCS}")


def invalid_url(name: str, url: str) -> ApiError:
    return ApiError(400, 21205, f"{name} is not a valid URL: {url}")


def not_in_progress() -> ApiError:
    return ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")


def twiml_too_long() -> ApiError:
    return ApiError(400, 20001, "Twiml parameter is longer than 4000 characters")
