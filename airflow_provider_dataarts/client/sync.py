"""Blocking transport for the hook: a pooled ``requests.Session`` carrying out the client core's steps."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_provider_dataarts.client import core
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConnectionError

if TYPE_CHECKING:
    import requests

    from airflow_provider_dataarts.client.config import DataArtsConfig

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0


class SyncTransport:
    """
    Sends ``ApiRequest``s with auth, retries and token renewal (all decided in ``core``).

    ``deadline`` (epoch seconds): no request's timeout runs past it, no retry whose wait would end
    past it is made, and a call with no time left raises ``DataArtsDeadlineExceeded`` at once.
    """

    def __init__(self, config: DataArtsConfig, log: Any) -> None:
        import requests

        self.config = config
        self.log = log
        self.session: requests.Session = requests.Session()
        # What each host's ``Date`` headers prove of its clock: (low, high) bounds, in ms, of the
        # host's clock minus ours (``lifecycle.in_window`` narrows a lost answer's window by it).
        # Per host: IAM, the DataArts host, the Factory host and a CDM cluster keep clocks of their own.
        self._skews: dict[str, tuple[int, int]] = {}

    def skew_for(self, service: str) -> tuple[int, int] | None:
        """The bounds of ``service``'s clock minus ours that its answers proved so far (None: none seen)."""
        from urllib.parse import urlsplit

        return self._skews.get(urlsplit(core.base_url(self.config, service)).netloc)

    def run(self, operation: Generator[core.ApiRequest, Any, T], *, deadline: float | None = None) -> T:
        """Drive an operation: send each request it yields, hand it the answer, return its result."""
        return self._carry_out(core.run_operation(self.config, operation, self.log, deadline))

    def call(self, request: core.ApiRequest, *, deadline: float | None = None) -> Any:
        return self._carry_out(core.call(self.config, request, self.log, deadline))

    def _carry_out(self, steps: core.Steps[T]) -> T:
        with core.Drive(steps) as drive:
            while not drive.done:
                drive.reply(self._step(drive.step))
            return cast(T, drive.result)

    def _step(self, step: core.Step) -> Any:
        if isinstance(step, core.Send):
            return self._exchange(step)
        if isinstance(step, core.Sleep):
            time.sleep(step.seconds)
        else:
            from airflow.providers.common.compat.sdk import mask_secret

            mask_secret(step.secret)
        return None

    def _exchange(self, step: core.Send) -> tuple[int, Any, bytes] | DataArtsAPIError:
        from urllib.parse import urlsplit

        import requests

        prepared, request = step.prepared, step.request
        sent = time.time()
        try:
            response = self.session.request(
                prepared.method,
                prepared.url,
                headers=prepared.headers,
                data=prepared.body or None,
                timeout=(min(CONNECT_TIMEOUT, step.timeout), step.timeout),
                verify=self.config.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as error:
            return DataArtsAPIError(
                f"TLS failed ({error}); check the endpoint or set extra.verify to a CA bundle path",
                method=request.method,
                path=request.path,
            )
        except requests.RequestException as error:
            return DataArtsConnectionError(
                f"{type(error).__name__}: {error}",
                may_have_arrived=_may_have_arrived(error),
                method=request.method,
                path=request.path,
            )
        host = urlsplit(prepared.url).netloc
        skew = observed_skew(self._skews.get(host), response.headers.get("Date"), sent, time.time())
        if skew is not None:
            self._skews[host] = skew
        return response.status_code, response.headers, response.content

    def close(self) -> None:
        self.session.close()


def observed_skew(
    known: tuple[int, int] | None, date: str | None, sent: float, received: float
) -> tuple[int, int] | None:
    """
    The bounds of (service clock - our clock) in ms that an answer's ``Date`` header proves: the
    service stamped it between ``sent`` and ``received`` (our clock), in whole seconds rounded down.
    Narrowed by the bounds known so far when they agree; replaced when they do not (a clock step).
    """
    from email.utils import parsedate_to_datetime

    if not date:
        return known
    try:
        stamped = parsedate_to_datetime(date).timestamp() * 1000
    except (TypeError, ValueError, IndexError, OverflowError):
        return known
    low, high = int(stamped - received * 1000), int(stamped + 1000 - sent * 1000)
    if known is not None and max(low, known[0]) <= min(high, known[1]):
        return max(low, known[0]), min(high, known[1])
    return low, high


def _may_have_arrived(error: Exception) -> bool:
    import requests
    import urllib3.exceptions

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not isinstance(reason, urllib3.exceptions.ConnectTimeoutError)
