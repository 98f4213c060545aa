"""Blocking transport for the hook: a pooled ``requests.Session`` driving the shared client core."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_dataarts.client import core
from airflow_provider_dataarts.exceptions import DataArtsAPIError, DataArtsConnectionError

if TYPE_CHECKING:
    import requests

    from airflow_provider_dataarts.client.config import DataArtsConfig

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0


class SyncTransport:
    """Sends ``ApiRequest``s with auth, retries and token renewal; runs generator operations."""

    def __init__(self, config: DataArtsConfig, log: Any) -> None:
        import requests

        self.config = config
        self.log = log
        self.session: requests.Session = requests.Session()

    def run(self, operation: Generator[core.ApiRequest, Any, T], *, deadline: float | None = None) -> T:
        """Drive an operation: send each request it yields, hand it the answer, return its result."""
        try:
            request = next(operation)
            while True:
                request = operation.send(self.call(request, deadline=deadline))
        except StopIteration as done:
            return done.value

    def call(self, request: core.ApiRequest, *, deadline: float | None = None) -> Any:
        core.check_deadline(request, deadline)
        for attempt in _retrying(self.config, request, self.log, deadline):
            with attempt:
                return self._call_once(request)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _call_once(self, request: core.ApiRequest) -> Any:
        token = self._token()
        try:
            return core.read_answer(request, *self._exchange(request, token))
        except DataArtsAPIError as error:
            if not core.needs_token_renewal(self.config, error):
                raise
            self.log.info("DataArts token was refused (%s); renewing it once", error.error_code)
            core.TOKENS.discard(self.config, token)
            return core.read_answer(request, *self._exchange(request, self._token()))

    def _token(self) -> str | None:
        if self.config.auth_type == "token":
            return self.config.secret
        if self.config.auth_type != "password":
            return None
        cached = core.TOKENS.get(self.config)
        if cached:
            return cached
        with core.TOKENS.guard:
            cached = core.TOKENS.get(self.config)
            if cached:
                return cached
            token = self._fetch_token()
            from airflow.providers.common.compat.sdk import mask_secret

            mask_secret(token.value)
            core.TOKENS.put(self.config, token)
            return token.value

    def _fetch_token(self) -> core.IamToken:
        request = core.token_request(self.config)
        for attempt in _retrying(self.config, request, self.log):
            with attempt:
                return core.read_token(request, *self._exchange(request, None))
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _exchange(self, request: core.ApiRequest, token: str | None) -> tuple[int, Any, bytes]:
        import requests

        prepared = core.prepare(self.config, request, token)
        try:
            response = self.session.request(
                prepared.method,
                prepared.url,
                headers=prepared.headers,
                data=prepared.body or None,
                timeout=(min(CONNECT_TIMEOUT, self.config.timeout), self.config.timeout),
                verify=self.config.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as error:
            raise DataArtsAPIError(
                f"TLS failed ({error}); check the endpoint or set extra.verify to a CA bundle path",
                method=request.method,
                path=request.path,
            ) from None
        except requests.RequestException as error:
            raise DataArtsConnectionError(
                f"{type(error).__name__}: {error}",
                may_have_arrived=_may_have_arrived(error),
                method=request.method,
                path=request.path,
            ) from None
        return response.status_code, response.headers, response.content

    def close(self) -> None:
        self.session.close()


def _retrying(
    config: DataArtsConfig, request: core.ApiRequest, log: Any, deadline: float | None = None
) -> Any:
    import tenacity

    kwargs = core.retry_kwargs(config, request, log)
    base, late = kwargs["stop"], core.deadline_stop(deadline)
    kwargs["stop"] = lambda state: base(state) or late(state)
    return tenacity.Retrying(**kwargs)


def _may_have_arrived(error: Exception) -> bool:
    import requests
    import urllib3.exceptions

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not isinstance(reason, urllib3.exceptions.ConnectTimeoutError)
