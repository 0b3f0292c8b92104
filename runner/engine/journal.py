"""The run journal, `.wanform/journal.jsonl`: each task id reaches the disk the moment it is known.

One JSON object per line, appended, flushed and fsynced before the run goes on, so a crash,
`kill -9` or Ctrl-C never loses a task that is being paid for. In a run, the lines that jobs
record in one turn of the loop (or while the last write is on its way) share one write and one
fsync, made in a worker thread; each job goes on only once its own line is durable. A job's
`finished` line, which no request waits on, waits up to GROUP_SECONDS for company: the next
submission's intent or task id takes it along. A rerun reads it back: a job whose task is
journaled is polled, not submitted again. The run guard keeps two runs from sharing one journal.
Output files inside the project are recorded relative to it, so a journal committed to git holds
in any checkout of the project (a CI machine's, a colleague's).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Required, TypedDict, TypeGuard, Unpack

from wanform.runner.api.answers import FailureRecord
from wanform.runner.api.errors import WanformError
from wanform.runner.engine.guard import run_guard
from wanform.runner.files.areas import STATE_DIR
from wanform.runner.timestamps import utc_now
from wanform.spec.models import TaskStatus

FILE = "journal.jsonl"
EXPIRED = "EXPIRED"  # the journal's own status: the task outlived its retention, unseen
# The task will never produce images: submit again.
DEAD = frozenset({TaskStatus.CANCELED, EXPIRED})
# Lines that no request waits on (a job's end: nothing is sent or paid after it), and how long one
# waits for other lines to share its write and fsync (most runs record one every few ms).
GROUPED = frozenset({"finished"})
GROUP_SECONDS = 0.02
# The type of each field a line may hold: a line that breaks one is skipped, as a torn one is.
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "event": str,
    "job": str,
    "task_id": (str, type(None)),
    "request_id": str,
    "status": (str, type(None)),
    "at": (int, float),
    "timeout": (int, float),
    "outputs": list,
    "failures": list,
    "sidecar": bool,
    "candidates": list,
    "candidates_of": str,
}


class JournalOutput(TypedDict, total=False):
    """A file a finished job wrote (an ImageOut); on replay only its `file` is checked."""

    index: int
    file: str  # relative to the project root when inside it; an s3:// URI when stored
    sha256: str
    bytes: int


class JournalFields(TypedDict, total=False):
    """What a line holds beyond its event and job (FIELD_TYPES checks them on replay)."""

    task_id: str | None
    request_id: str
    status: str | None
    at: float  # epoch seconds of a submission
    timeout: float
    model: str
    code: str  # a refused submission's error code
    outputs: list[JournalOutput]
    failures: list[FailureRecord]
    sidecar: bool
    candidates: list[str]
    candidates_of: str  # the job whose line named the same candidates in full
    adopted: bool


class JournalLine(JournalFields, total=False):
    """One line of the journal, as `Journal.write` writes it and `Journal.open` replays it."""

    event: Required[str]
    job: Required[str]
    time: str  # ISO 8601 with its offset


class JournalError(WanformError):
    """A journal line could not be written (a full disk): the run stops, since no task may be
    paid for without it."""

    code = "JournalNotWritten"
    hint = (
        "the run stopped submitting; make room and rerun: tasks already made are polled, or found "
        "again, never silently paid for twice"
    )
    task_id: str | None = None  # a task made whose id the journal could not take


@dataclass(slots=True)
class JobRecord:
    """What the journal knows of one job (by fingerprint): its latest task and how that ended."""

    task_id: str | None = None
    request_id: str = ""
    status: str | None = (
        None  # None while the task runs; SUCCEEDED, FAILED, CANCELED, EXPIRED when it ended
    )
    # shared empties until the task ends with files: no two lists per job of a large run
    outputs: Sequence[JournalOutput] = ()
    failures: Sequence[FailureRecord] = ()  # images it did not make or keep
    sidecar: bool = True  # False: the job's sidecar could not be written
    intent: float | None = (
        None  # epoch seconds of a submission whose answer never reached the journal
    )
    deadline: float | None = None  # after this, that submission can no longer make a task
    adopted: bool = False  # the task was found after a lost answer, not named by one
    unresolved: list[str] | None = None  # tasks that may be the job's lost one: none was taken
    model: str | None = None  # the model of the submission `intent` stands for

    @property
    def live(self) -> bool:
        """A task to poll rather than a job to submit."""
        return (
            self.task_id is not None
            and self.status not in DEAD
            and self.status != TaskStatus.FAILED
        )


class Journal:
    """The journal of one project directory, held open for one run. `records` holds what the
    file said when opened and what this run wrote since, except the files of the jobs this run
    finished: the run has them, and no job of it asks again."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.directory = Path(root) / STATE_DIR
        self.root = Path(root)  # recorded output files are relative to it, read back under it
        self.path = self.directory / FILE
        self.records: dict[str, JobRecord] = {}
        self.task_ids: set[str] = set()
        # when each task was first journaled (answered or adopted), epoch seconds: it was made
        # before then
        self.answered: dict[str, float] = {}
        # tasks an unresolved job named as maybe its own: no other job can surely claim them
        self.named: set[str] = set()
        # tasks the user chose to pay past (--resubmit-unresolved, --force): no job's lost task
        self.dismissed: set[str] = set()
        # the candidates each job's line named in full, for the lines that refer to them
        self._listed: dict[str, list[str]] = {}
        self._guard = contextlib.ExitStack()
        self._file: IO[str] | None = None
        # entries `record` was given and not yet written, each with the future its job waits on
        self._queued: list[tuple[JournalLine, asyncio.Future[JournalError | None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        # a line a request waits on (or `drained`) came: the next write waits for no company
        self._hurried = False
        self._hurry: asyncio.Event | None = None  # the wait for company, while there is one

    def open(self) -> Journal:
        """Take the lock, read what earlier runs wrote, and open for appending."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._guard.enter_context(run_guard(self.directory.parent))
        text = self.path.read_text(encoding="utf-8", errors="replace") if self.path.exists() else ""
        self._replay(text)
        # held open for the run (close() shuts it), so no `with`
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if text and not text.endswith("\n"):
            self._file.write("\n")  # a line cut short by a crash stays alone on its line
        return self

    def close(self) -> None:
        """Close the file and release the guard. Closing may fail again on the line `write`
        could not make durable (a full disk): that error was raised as JournalError already."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        self._guard.close()

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _replay(self, text: str) -> None:
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the last line of a run killed mid-write
            if _well_formed(entry):
                self._apply(self._located(entry))

    def _candidates(self, entry: JournalLine) -> list[str]:
        """The tasks a line names: its own list, or the one named in full by the job it refers
        to (one list shared by every job that names it)."""
        if "candidates" in entry:
            self._listed[entry["job"]] = entry["candidates"]
            return entry["candidates"]
        return self._listed.get(entry.get("candidates_of", ""), [])

    def _located(self, entry: JournalLine) -> JournalLine:
        """The entry with each output file as a path in this checkout of the project, spelled as
        the run spells the files it writes (from the root it was given)."""
        if entry.get("outputs"):
            entry["outputs"] = [
                {**o, "file": str(self.root / o["file"])} if _named(o) else o
                for o in entry["outputs"]
            ]
        return entry

    def _portable(self, output: JournalOutput) -> JournalOutput:
        """An output to record: its file relative to the project root when inside it."""
        if not _named(output):
            return output
        file, root = Path(os.path.abspath(output["file"])), Path(os.path.abspath(self.root))
        inside = file.is_relative_to(root)
        return {**output, "file": file.relative_to(root).as_posix()} if inside else output

    def _apply(self, entry: JournalLine) -> None:
        record = self.records.setdefault(entry["job"], JobRecord())
        event, task_id = entry.get("event"), entry.get("task_id")
        if task_id:
            self.task_ids.add(task_id)
        if event == "submitting":  # a new attempt: an earlier unresolved one is given up
            self.dismissed.update(record.unresolved or ())
            record.intent, record.unresolved = entry.get("at"), None
            record.model = entry.get("model")
            timeout = entry.get("timeout")
            record.deadline = (
                None if record.intent is None or timeout is None else (record.intent + timeout)
            )
        elif (
            event == "refused"
        ):  # the service answered the submission with an error: no task was made
            record.intent = record.deadline = None
        elif event == "submitted":
            self.records[entry["job"]] = JobRecord(
                task_id, entry.get("request_id", ""), adopted=entry.get("adopted") is True
            )
            answered = _epoch(entry.get("time"))
            if task_id and answered is not None:
                self.answered.setdefault(task_id, answered)
        elif event == "dismissed":
            self.dismissed.update(self._candidates(entry))
        elif event == "unresolved":
            candidates = self._candidates(entry)
            self.records[entry["job"]] = JobRecord(unresolved=candidates)
            self.named.update(candidates)
        elif event == "finished" and task_id is None:  # a sync call: no task to resume
            self.records[entry["job"]] = JobRecord(
                None,
                entry.get("request_id", ""),
                entry.get("status"),
                entry.get("outputs", []),
                entry.get("failures", []),
                entry.get("sidecar", True),
            )
        elif event in ("finished", "canceled", "expired") and task_id == record.task_id:
            record.status = entry.get("status") or event.upper()
            record.outputs = entry.get("outputs", record.outputs)
            record.failures = entry.get("failures", record.failures)
            record.sidecar = entry.get("sidecar", True)

    def get(self, job: str) -> JobRecord | None:
        return self.records.get(job)

    def write(self, event: str, job: str, **fields: Unpack[JournalFields]) -> None:
        """Append one event and make it durable before returning, outside a run's loop (which
        uses `record`); JournalError if it cannot be."""
        entry = self._entry(event, job, fields)
        self._append([entry])
        self._written(entry)

    async def record(self, event: str, job: str, **fields: Unpack[JournalFields]) -> None:
        """Append one event and return once it is durable, written and fsynced with the events
        other jobs recorded meanwhile; JournalError if it cannot be. A job cancelled while it
        waits leaves its event to be written all the same."""
        done: asyncio.Future[JournalError | None] = asyncio.get_running_loop().create_future()
        self._queued.append((self._entry(event, job, fields), done))
        if event not in GROUPED:
            self._hurry_up()
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        error = await asyncio.shield(done)
        if error is not None:
            raise error

    async def drained(self) -> None:
        """Wait until every recorded event has been written (or has failed to be)."""
        self._hurry_up()
        if self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        """Write what was recorded, a batch at a time, until nothing waits."""
        try:
            while self._queued:
                await self._company()
                self._hurried = False  # by the lines of this batch
                batch, self._queued = self._queued, []
                try:
                    await asyncio.to_thread(self._append, [entry for entry, _ in batch])
                except JournalError as exc:
                    for _, done in batch:  # each job its own error: a caller may name its task
                        done.set_result(JournalError(exc.message))
                    continue
                except Exception as exc:  # a bug: it reaches every job waiting, none waits on
                    for _, done in batch:
                        done.set_exception(exc)
                    continue
                for entry, done in batch:
                    self._written(entry)
                    done.set_result(None)
        finally:
            self._flushing = None

    async def _company(self) -> None:
        """While only GROUPED lines wait, wait up to GROUP_SECONDS for a line a request waits on
        (or `drained`), so they share its fsync."""
        if self._hurried or any(entry["event"] not in GROUPED for entry, _ in self._queued):
            return
        hurry = self._hurry = asyncio.Event()
        timer = asyncio.get_running_loop().call_later(GROUP_SECONDS, hurry.set)
        try:
            await hurry.wait()
        finally:
            timer.cancel()
            self._hurry = None

    def _hurry_up(self) -> None:
        self._hurried = True
        if self._hurry is not None:
            self._hurry.set()

    def _entry(self, event: str, job: str, fields: JournalFields) -> JournalLine:
        entry: JournalLine = {"event": event, "job": job, "time": utc_now(), **fields}
        if "outputs" in fields:
            entry["outputs"] = [self._portable(o) for o in fields["outputs"]]
        return entry

    def _append(self, entries: list[JournalLine]) -> None:
        """Write `entries` as lines, flush and fsync once; JournalError if they are not durable."""
        assert self._file is not None, "journal not open"
        text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
        try:
            self._file.write(text)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, "")
            raise JournalError(
                f"cannot write {self.path}: {exc.strerror or exc}" + (f" ({name})" if name else "")
            ) from None

    def _written(self, entry: JournalLine) -> None:
        """What a durable entry tells the run."""
        if entry["event"] == "finished":  # 20,000 jobs' file lists would stay in memory for nothing
            entry = entry.copy()
            entry.pop("outputs", None)
            entry.pop("failures", None)
        self._apply(entry)


def _epoch(text: object) -> float | None:
    """Epoch seconds of a line's `time` (ISO 8601 with its offset); None when it is not one."""
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _well_formed(entry: object) -> TypeGuard[JournalLine]:
    """Whether a replayed line is an entry this module wrote: a job, and fields of their types."""
    if not isinstance(entry, dict) or not isinstance(entry.get("job"), str):
        return False
    if any(k in entry and not isinstance(entry[k], t) for k, t in FIELD_TYPES.items()):
        return False
    return (
        all(isinstance(c, str) for c in entry.get("candidates", []))
        and all(isinstance(o, dict) for o in entry.get("outputs", []))
        and all(_failure(f) for f in entry.get("failures", []))
    )


def _named(output: object) -> TypeGuard[JournalOutput]:
    """Whether an output names its file (the check on the way in refuses the others)."""
    return isinstance(output, dict) and isinstance(output.get("file"), str) and bool(output["file"])


def _failure(item: object) -> bool:
    """Whether a failure is as `finished` writes it: an image number, a code and a message."""
    return (
        isinstance(item, dict)
        and type(item.get("index")) is int
        and isinstance(item.get("code"), str)
        and isinstance(item.get("message"), str)
    )
