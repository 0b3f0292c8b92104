"""Image references in a request: what the emulator can read (data URIs, `oss://` uploads, its own
result URLs, outside `http(s)` URLs it fetched) is probed and kept for drawing.

Outside URLs are fetched between two runs of the contract: the first names them (and refuses a
body that is wrong whatever they hold, without fetching anything), the second reads them. A URL
that failed to download fails the task; one whose host cannot be reached at all (offline) is
taken unseen as the guess `inputs.not_fetched` says.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping

from yarl import URL

from wanform.emulator.errors import OssError, invalid_parameter
from wanform.emulator.http.client.inputurls import Fetched, Outcome, Unfetched
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.results import RESULTS_PREFIX, ResultStore
from wanform.emulator.state.uploads import UploadStore
from wanform.spec import datauri
from wanform.spec.checks import data_uri_limit
from wanform.spec.errors import BAD_URL, DOWNLOAD_FAILED, data_uri_too_large
from wanform.spec.imageprobe import ImageInfo, ImageProbeError, probe_bytes, probe_stream
from wanform.spec.models import DATA_URI_MAX_BYTES, OSS_SCHEME, ModelSpec
from wanform.spec.problems import Path

NOT_FETCHED = "inputs.not_fetched"


def _strings(document: object) -> Iterator[str]:
    """Every string in a JSON document (iteratively:
    a deeply nested body must not exhaust the stack)."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def own_result_url(ref: str, hosts: frozenset[str]) -> bool:
    """Whether `ref` is a result URL of this emulator (by host and path)."""
    if not ref[:8].lower().startswith(("http://", "https://")) or RESULTS_PREFIX not in ref:
        return False
    try:
        url = URL(ref)
    except ValueError:
        return False
    return url.raw_authority in hosts and url.path.startswith(RESULTS_PREFIX)


async def fetch_own_results(
    body: object, hosts: frozenset[str], results: ResultStore
) -> dict[str, bytes | None]:
    """Render the results this request points back at (None for a link that no longer works)."""
    fetched: dict[str, bytes | None] = {}
    for ref in _strings(body):
        if ref in fetched or not own_result_url(ref, hosts):
            continue
        try:
            fetched[ref] = await results.png(results.lookup_url(ref))
        except OssError:
            fetched[ref] = None
    return fetched


class InputResolver:
    """The `images` lookup for `wanform.spec.checks.check_body`; remembers what it read, by path."""

    def __init__(
        self,
        spec: ModelSpec,
        uploads: UploadStore,
        account: Account,
        oss_resolve: bool,
        own: Mapping[str, bytes | None],
        outside: Mapping[str, Outcome],
    ) -> None:
        self._limit, self._limit_guess = data_uri_limit(spec)
        self.unverified: set[str] = set()  # guesses the inputs' answer rested on
        self._uploads = uploads
        self._account = account
        self._oss_resolve = oss_resolve
        self._own = own
        self._outside = outside
        self._unreachable_fails = spec.guess(NOT_FETCHED) == "fail"
        self.unfetched: list[str] = []  # outside URLs not fetched yet, in the order asked
        self.download_failed = False  # an input failed to download: the task FAILS
        self.infos: dict[Path, ImageInfo] = {}
        self.data: dict[Path, bytes] = {}

    def __call__(self, path: Path, ref: str) -> ImageInfo | ImageProbeError | None:
        fetched = self._fetch(ref)
        if fetched is None or isinstance(fetched, ImageProbeError):
            return fetched
        if isinstance(fetched, Fetched):
            return self._cut_short(fetched)
        try:
            info = probe_bytes(fetched)
        except ImageProbeError as exc:
            return exc
        self.infos[path], self.data[path] = info, fetched
        return info

    def _fetch(self, ref: str) -> bytes | Fetched | ImageProbeError | None:
        """The bytes behind `ref` (`Fetched` when cut short); None for an outside URL not fetched;
        400 for a reference DashScope would refuse."""
        scheme = ref[:8].lower()
        if datauri.is_data_uri(ref):
            return self._data_uri(ref)
        if scheme.startswith(OSS_SCHEME):
            return self._upload(ref)
        if not scheme.startswith(("http://", "https://")):
            raise invalid_parameter(BAD_URL)
        if ref in self._own:
            return self._downloaded(self._own[ref])
        return self._fetched(ref)

    def _fetched(self, ref: str) -> bytes | Fetched | None:
        """An outside URL's bytes; None when it has not been (or could not be) fetched; 400 for
        one that does not parse or names no host."""
        outcome = self._outside.get(ref)
        if outcome is None:
            try:
                host = URL(ref).host
            except ValueError:
                host = None
            if not host:
                raise invalid_parameter(BAD_URL)
            self.unfetched.append(ref)
            return None
        if outcome is Unfetched.UNREACHABLE:
            self.unverified.add(NOT_FETCHED)
            self.download_failed |= self._unreachable_fails
            return None
        if outcome is Unfetched.FAILED:
            self.download_failed = True
            return None
        return outcome.data if outcome.complete else outcome

    @staticmethod
    def _cut_short(fetched: Fetched) -> ImageInfo | ImageProbeError:
        """A body longer than any model takes: probed from its head, never kept (it is refused
        for its size)."""
        try:
            return probe_stream(io.BytesIO(fetched.data), fetched.nbytes)
        except ImageProbeError as exc:
            return exc

    def _data_uri(self, ref: str) -> bytes | ImageProbeError:
        size = datauri.decoded_size(ref)
        # the cap is a guess only where the models' pages and the error page disagree
        guessed = (self._limit_guess,) if self._limit_guess and size > DATA_URI_MAX_BYTES else ()
        if size > self._limit:
            raise invalid_parameter(data_uri_too_large(self._limit), guessed)
        self.unverified.update(guessed)
        try:
            return datauri.decode(ref)[1]
        except ValueError as exc:
            return ImageProbeError(str(exc))

    def _upload(self, ref: str) -> bytes:
        if not self._oss_resolve:
            raise invalid_parameter(BAD_URL)
        return self._downloaded(self._uploads.get(self._account, ref[len(OSS_SCHEME) :]))

    @staticmethod
    def _downloaded(data: bytes | None) -> bytes:
        if data is None:
            raise invalid_parameter(DOWNLOAD_FAILED)
        return data
