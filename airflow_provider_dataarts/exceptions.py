"""Errors raised by the DataArts provider: one type carrying what the service said."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.providers.common.compat.sdk import AirflowException


class DataArtsAPIError(AirflowException):
    """
    A DataArts call failed: the service answered with an error, or could not be reached.

    Carries what the service said (``status_code``, ``error_code``, ``error_msg``, ``request_id``) and
    which call it was (``method``, ``path``); never a credential.

    :param error_msg: What went wrong: the service's ``error_msg``, or our words for a broken answer.
    :param status_code: The HTTP status, or ``None`` when no answer came.
    :param error_code: The service's ``error_code`` (``APIG.0301``, ``DLF.6201``...), when it sent one.
    :param method: The HTTP method of the call.
    :param path: The path of the call (no host, no query).
    :param request_id: The ``X-Request-Id`` of the answer, for Huawei Cloud support.
    :param retry_after: Seconds the service asked to wait (``Retry-After``), when it said.
    :param malformed: The answer arrived but is not of the documented shape.
    """

    def __init__(
        self,
        error_msg: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        malformed: bool = False,
    ) -> None:
        self.error_msg = error_msg
        self.status_code = status_code  # type: ignore[assignment]
        self.error_code = error_code
        self.method = method
        self.path = path
        self.request_id = request_id
        self.retry_after = retry_after
        self.malformed = malformed
        super().__init__(self._describe())

    def _describe(self) -> str:
        call = f"{self.method} {self.path}" if self.method else "DataArts call"
        status = f"HTTP {self.status_code}" if self.status_code is not None else "no answer"
        # IAM errors carry the HTTP status as their code: "HTTP 401", not "HTTP 401 401".
        code = f" {self.error_code}" if self.error_code and self.error_code != str(self.status_code) else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"{call} failed: {status}{code}: {self.error_msg}{request}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.error_msg, dict(self.__dict__)))


def _rebuild(cls: type[DataArtsAPIError], error_msg: str, state: dict[str, object]) -> DataArtsAPIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


class DataArtsConnectionError(DataArtsAPIError):
    """
    The service could not be reached, or the connection broke before an answer came.

    ``may_have_arrived`` is False only when the request surely never reached the service (connection
    refused, connect timeout): only then may a call that starts a run be sent again.

    :param error_msg: The HTTP library's own text of the failure.
    :param may_have_arrived: Whether the request may have reached the service.
    :param method: The HTTP method of the call.
    :param path: The path of the call.
    """

    def __init__(self, error_msg: str, *, may_have_arrived: bool, method: str, path: str) -> None:
        self.may_have_arrived = may_have_arrived
        super().__init__(error_msg, method=method, path=path)

    @property
    def reason(self) -> str:
        """What went wrong, in words (``connection refused``), read from the HTTP library's text."""
        return network_reason(self.error_msg)

    def _describe(self) -> str:
        call = f"{self.method} {self.path}" if self.method else "DataArts call"
        return f"{call} failed: no answer ({self.reason}): {self.error_msg}"


# Words for what the HTTP libraries (urllib3/requests, httpx) report, most specific first.
_NETWORK_REASONS = (
    (("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"), "the TLS certificate is not trusted"),
    (("SSLError", "SSL:", "TLS"), "the TLS handshake failed"),
    (("Connection refused", "Errno 111"), "connection refused"),
    (
        (
            "Name or service not known",
            "Temporary failure in name resolution",
            "nodename nor servname",
            "NameResolutionError",
            "getaddrinfo failed",
            "No address associated",
        ),
        "the host name does not resolve",
    ),
    (("Network is unreachable", "No route to host", "Errno 101", "Errno 113"), "no route to the host"),
    (("Connection reset", "Errno 104"), "the connection was reset"),
    (("ConnectTimeout", "Connect timeout", "connect timeout"), "timed out while connecting"),
    (("ReadTimeout", "Read timed out", "timed out", "Timeout"), "timed out waiting for the answer"),
    (
        ("RemoteDisconnected", "Connection aborted", "Server disconnected", "RemoteProtocolError"),
        "the connection closed before an answer",
    ),
)


def network_reason(text: str) -> str:
    """``connection refused``, ``the host name does not resolve``...: the cause of a failed request."""
    for needles, reason in _NETWORK_REASONS:
        if any(needle in text for needle in needles):
            return reason
    return "the request failed on the network"


class DataArtsDeadlineExceeded(DataArtsAPIError):
    """A call was to be made after its caller's deadline had passed: nothing was sent."""


class DataArtsConfigError(AirflowException, ValueError):
    """The connection or a parameter is wrong; raised before any request is sent."""


@contextmanager
def refused_without_retry(task_id: str, *also: type[Exception]) -> Iterator[None]:
    """
    Around the argument checks of an operator's or sensor's ``validate()``: a refused argument fails
    the task without retry (a retry renders the same values), naming the argument. ``also``: other
    errors of those checks that refuse an argument (``ValueError`` of a date DataArts cannot take).
    """
    refused: tuple[type[Exception], ...] = (DataArtsConfigError, *also)
    try:
        yield
    except refused as error:
        from airflow.providers.common.compat.sdk import AirflowFailException

        raise AirflowFailException(f"{task_id}: {error}") from error
