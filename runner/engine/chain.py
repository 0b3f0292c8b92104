"""Jobs that take other jobs' outputs: each waits until its upstream jobs have ended, then takes
their files, checked again as the real images they are; or it is skipped with the reason.

An upstream's files are final when its job has ended: images are written under a temporary name
and renamed, so a downstream never reads a half-written file. An upstream outside the run (unchanged
since the lock recorded it) gives the files the lock records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path as FsPath

from wanform.runner.api.errors import WanformError
from wanform.runner.engine.states import PARTIAL, SKIPPED, SUCCEEDED, JobState
from wanform.runner.recipes.check import CheckedJob, ImageFiles, check_job
from wanform.runner.recipes.references import Link
from wanform.runner.storage.errors import StoreError
from wanform.runner.storage.location import StoredImage, is_stored
from wanform.spec.imageprobe import ImageInfo, ImageProbeError, probe_file
from wanform.spec.models import MODELS, ModelSpec
from wanform.spec.problems import Path

MADE_IMAGES = frozenset({SUCCEEDED, PARTIAL, SKIPPED})
Made = FsPath | StoredImage  # an upstream image on disk, or in the store


class UpstreamError(WanformError):
    """A job that takes an image another job did not make: it is not run."""

    code = "UpstreamFailed"
    hint = "the upstream job must make that image first; a rerun runs both"


class LinkedInputError(WanformError):
    """An upstream's real image breaks a limit of the job that takes it."""

    code = "InvalidInput"
    hint = "the upstream made an image this job cannot take; change either recipe"


class Chain:
    """The run's upstream outputs by job key and image index, and an event per running job that
    another takes outputs from (`running`; a job no other takes from leaves nothing here)."""

    def __init__(
        self,
        running: Iterable[str] = (),
        known: Mapping[str, Mapping[int, Made]] | None = None,
        models: Mapping[str, ModelSpec] = MODELS,
        fetch: Callable[[StoredImage], Awaitable[FsPath]] | None = None,
    ) -> None:
        """`fetch`: a local copy of an image in the store, checked by its digest."""
        self.ended = {key: asyncio.Event() for key in running}
        self.states: dict[str, JobState] = {}
        self.files: dict[str, dict[int, Made]] = {k: dict(v) for k, v in (known or {}).items()}
        self.models, self.fetch = models, fetch

    def finished(self, key: str, state: JobState) -> None:
        """A job of the run ended: its images become inputs of the jobs waiting for it."""
        if key not in self.ended:
            return  # no job of the run takes its outputs
        self.states[key] = state
        if state.state in MADE_IMAGES:
            self.files[key] = {
                image.index: StoredImage(image.file, f"sha256:{image.sha256}")
                if is_stored(image.file)
                else FsPath(image.file)
                for image in state.images
            }
        self.ended[key].set()

    async def inputs(self, checked: CheckedJob) -> dict[Path, FsPath]:
        """Wait for the job's upstream jobs; the file of each input they made, checked against
        the job's limits. UpstreamError or LinkedInputError when it cannot run."""
        for link in checked.links:
            if link.upstream in self.ended:
                await self.ended[link.upstream].wait()
        made = {link.body_path: self._file(link) for link in checked.links}
        files = {path: await self._local(image) for path, image in made.items()}
        if files:
            await asyncio.to_thread(self._recheck, checked, files)
        return files

    async def _local(self, image: Made) -> FsPath:
        """The image on disk: an image in the store fetched (and checked) first."""
        if not isinstance(image, StoredImage):
            return image
        if self.fetch is None:
            raise UpstreamError(f"skipped: upstream image {image.uri} is in a store, not out:")
        try:
            return await self.fetch(image)
        except StoreError as exc:
            raise UpstreamError(f"skipped: upstream image {exc.message}") from None

    def _file(self, link: Link) -> Made:
        file = self.files.get(link.upstream, {}).get(link.image)
        if isinstance(file, StoredImage) or (file is not None and file.is_file()):
            return file
        state = self.states.get(link.upstream)
        if state is not None and state.state not in MADE_IMAGES:
            why = f"{state.state}" + (f" ({state.error.code})" if state.error else "")
            raise UpstreamError(f"blocked: upstream {link.upstream} {why}")
        made = len(self.files.get(link.upstream, {}))
        raise UpstreamError(
            f"blocked: upstream {link.upstream} has no image {link.image} "
            f"({made} image{'s' * (made != 1)} made)"
        )

    def _recheck(self, checked: CheckedJob, files: Mapping[Path, FsPath]) -> None:
        """The checks of validation again, with the upstream images as they came out."""

        def real(ref) -> ImageInfo | ImageProbeError | None:
            try:
                return probe_file(files[ref.body_path])
            except ImageProbeError as exc:
                return exc
            except (KeyError, OSError):
                return None

        again = check_job(checked.job, ImageFiles(), self.models, real)
        errors = [
            f"{where}: error[{p.code}]: {p.message}"
            for where, p in again.findings
            if p.severity == "error"
        ]
        if errors:
            raise LinkedInputError("; ".join(errors))
