"""The library's one door to the network: every public service it asks goes through here.

One `requests.Session` per client with a User-Agent naming the library and the
deployer's contact address (`LIBRARY_CONTACT_EMAIL`), timeouts to connect and
between bytes (`LIBRARY_HTTP_TIMEOUT`), retries with back-off on 429 and 5xx
answers that honour `Retry-After` within a bounded total wait, an optional
minimum interval between requests (NCBI asks for at most three a second), and
a cap on the size of an answer, counted after decompression.

No `requests` exception escapes: every failure becomes the caller's domain error
(`LookupFailed` for DOI look-ups, `DiscoveryFailed` for literature searches)
whose message names the service and says what to do.  Answers with other
statuses (404, 400...) are returned, so that each service's client can say
what they mean for it.

`sleep` and `clock` are parameters so that tests record waits instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ReadTimeoutError

from .errors import LibraryError

USER_AGENT = "trauma-informed-evidence-library/0.1 (https://github.com/{mailto})"
MAX_ATTEMPTS = 3
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_RETRY_AFTER_SECONDS = 30.0  # the longest single wait a Retry-After can ask for
MAX_TOTAL_WAIT_SECONDS = 30.0  # the longest all the waits of one request may add up to
BACKOFF_BASE_SECONDS = 1.0

Params = Mapping[str, str | int] | None


def usable_email(contact_email: str) -> str:
    """The contact address if it can be sent in a header or a query, else ''."""
    email = (contact_email or "").strip()
    # A header value must be printable ASCII on one line; anything else would make
    # the request fail (or inject a header), so such an address is left out.
    if email and email.isascii() and email.isprintable() and " " not in email and "@" in email:
        return email
    return ""


def user_agent(contact_email: str) -> str:
    """Crossref (and NCBI, OpenAlex) ask clients to name themselves and give a contact address."""
    email = usable_email(contact_email)
    return USER_AGENT.format(mailto=f"; mailto:{email}" if email else "")


@dataclass(frozen=True)
class Answer:
    """A response the caller must interpret: its status, body (bounded) and content type."""

    status: int
    body: bytes
    content_type: str
    url: str


@dataclass(frozen=True)
class Service:
    """How messages name a service and what they advise instead.

    `name` is used inside a sentence ("the DOI service", "OpenAlex"); `advice`
    ends each message ("or add the reference by pasting its BibTeX.").
    """

    name: str
    base_url: str
    advice: str
    error: type[LibraryError]

    @property
    def Name(self) -> str:  # noqa: N802 (the name at the start of a sentence)
        return self.name[:1].upper() + self.name[1:]


class _TooLarge(Exception):
    pass


class HttpClient:
    """GET requests to one service, with retries, back-off and bounded answers."""

    def __init__(
        self,
        service: Service,
        *,
        contact_email: str = "",
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = MAX_ATTEMPTS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        max_total_wait: float = MAX_TOTAL_WAIT_SECONDS,
        min_interval: float = 0.0,
        accept: str = "application/json",
    ) -> None:
        self.service = service
        self.timeout = (float(timeout), float(timeout))
        self.max_attempts = max(1, max_attempts)
        self.max_response_bytes = max_response_bytes
        self.backoff_base = backoff_base
        self.max_total_wait = max_total_wait
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent(contact_email), "Accept": accept})

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------ requests
    def get(self, url: str, params: Params = None) -> Answer:
        """The answer to a GET, after retrying busy and failing servers; raises the service's error."""
        service = self.service
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            self._keep_interval()
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, stream=True)
            except requests.ConnectionError:  # includes ConnectTimeout and SSL errors
                delay = self._budget(_backoff(attempt, self.backoff_base), waited)
                if last or delay is None:
                    raise service.error(self._unreachable()) from None
                self._sleep(delay)
                waited += delay
                continue
            except requests.Timeout:
                # Waiting again would only double the wait.
                raise service.error(self._too_slow()) from None
            except requests.RequestException:  # a malformed base URL and the like
                raise service.error(self._unreachable()) from None
            with response:
                status = response.status_code
                if status == 429 or status >= 500:
                    delay = self._budget(_retry_delay(response.headers.get("Retry-After"),
                                                      _backoff(attempt, self.backoff_base)), waited)
                    if last or delay is None:
                        raise service.error(self._busy() if status == 429 else self._server_error(status))
                    self._sleep(delay)
                    waited += delay
                    continue
                body = self._read_body(response)
                return Answer(status, body, response.headers.get("Content-Type", ""), response.url)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _budget(self, delay: float, waited: float) -> float | None:
        """The wait still allowed before the next attempt, or None when the total is spent."""
        left = self.max_total_wait - waited
        if left <= 0:
            return None
        return min(delay, left)

    def _keep_interval(self) -> None:
        if self.min_interval <= 0:
            return
        if self._last_request is not None:
            gap = self.min_interval - (self._clock() - self._last_request)
            if gap > 0:
                self._sleep(gap)
        self._last_request = self._clock()

    def _read_body(self, response: requests.Response) -> bytes:
        service = self.service
        declared = response.headers.get("Content-Length", "")
        try:
            if declared.strip().isdigit() and int(declared) > self.max_response_bytes:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            # Counted after decompression, so a small gzip bomb is stopped too.
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _TooLarge
                chunks.append(chunk)
            return b"".join(chunks)
        except _TooLarge:
            raise service.error(
                f"{service.Name} sent an unexpectedly large answer (over "
                f"{self.max_response_bytes / (1024 * 1024):g} MB), so it was not read. "
                f"Try again later, {service.advice}") from None
        except requests.RequestException as error:
            # requests reports a read timeout in the middle of a body as a
            # ConnectionError wrapping urllib3's ReadTimeoutError.
            if isinstance(error, requests.Timeout) or any(
                    isinstance(arg, ReadTimeoutError) for arg in error.args):
                raise service.error(self._too_slow()) from None
            raise service.error(
                f"The answer from {service.name} at {service.base_url} was cut short. "
                f"Try again, {service.advice}") from None

    # ------------------------------------------------------------ messages
    def _unreachable(self) -> str:
        return (f"Could not reach {self.service.name} at {self.service.base_url}. Check the internet "
                f"connection, {self.service.advice}")

    def _too_slow(self) -> str:
        return (f"{self.service.Name} at {self.service.base_url} did not answer within "
                f"{self.timeout[1]:g} seconds. Try again later, {self.service.advice}")

    def _busy(self) -> str:
        return (f"{self.service.Name} is busy (it has had too many requests). Wait a minute and try "
                f"again, {self.service.advice}")

    def _server_error(self, status: int) -> str:
        return (f"{self.service.Name} is having problems (it answered with error {status}). "
                f"Try again later, {self.service.advice}")


def _backoff(attempt: int, base: float) -> float:
    return min(MAX_RETRY_AFTER_SECONDS, base * 2 ** (attempt - 1))


def _retry_delay(retry_after: str | None, fallback: float) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After if usable."""
    if retry_after:
        # Proxies sometimes repeat a header ("1, 1"); the first value is what was meant.
        first = retry_after.split(",")[0].strip()
        seconds: float | None = None
        try:
            seconds = float(first)
        except ValueError:
            try:
                when = parsedate_to_datetime(retry_after.strip())
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                seconds = (when - datetime.now(timezone.utc)).total_seconds()
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
        if seconds is not None and seconds == seconds:  # not NaN
            return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
    return fallback
