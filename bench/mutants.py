"""Mutation bench: small deliberate changes to important behaviours, and whether the suite notices.

Run: python bench/mutants.py [--only NAME] [--jobs N] [--no-baseline] [--list]

Each mutant replaces one exact snippet of one file in a copy of the project (never in the
tree itself) and runs the tests of that behaviour's package there with `pytest -x`, imports
coming from the copy. A mutant is *caught* when those tests fail, *survived* when they pass.
A snippet that is not found exactly once, or a change after which its file no longer compiles,
is an error, not a silent pass: the bench then exits 2, so a mutant whose code was rewritten is
fixed here instead of quietly measuring nothing.
Before the mutants, the union of their tests runs once on an unmutated copy (skip with
`--no-baseline`): a failure there would make every "caught" meaningless, and also exits 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)
TIMEOUT = 600  # seconds for one mutant's tests; pytest-timeout stops a single hung test sooner
PACKAGES = ("spec", "runner", "emulator")


@dataclass(frozen=True)
class Mutant:
    """One change: `original` (found exactly once in `path`) becomes `replacement`."""

    name: str
    path: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    breaks: str  # the behaviour the change breaks, in a few words


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    verdict: str  # caught, survived, not-applied, error
    seconds: float
    detail: str = ""


RUN = "tests/runner/"
GITOPS = "tests/gitops/"
EMU = "tests/emulator/"

MUTANTS = [
    # -- the five changes the suite used to let through ----------------------------------------
    Mutant(
        "intact-ignores-sha256",
        "runner/engine/results.py",
        'if file_sha256(fh) != item.get("sha256"):',
        "if False:",
        (RUN + "test_run.py",),
        "a journaled job whose output was edited is skipped",
    ),
    Mutant(
        "lock-unsorted",
        "runner/gitops/lockfile.py",
        "json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)",
        "json.JSONEncoder(indent=2, ensure_ascii=False)",
        (GITOPS + "test_lock_and_budget.py", GITOPS + "test_plan.py"),
        "the lock's text depends on insertion order",
    ),
    Mutant(
        "junit-partial-not-failure",
        "runner/reports/junit.py",
        "j.state in (FAILED, PARTIAL))",
        "j.state == FAILED)",
        (RUN + "test_junit.py",),
        "a partial job does not count as a JUnit failure",
    ),
    Mutant(
        "408-not-retryable",
        "spec/errors.py",
        "if status >= 500 or status == 408:",
        "if status >= 500:",
        (RUN + "test_http_status.py", RUN + "test_errors.py"),
        "a request timeout answer is final instead of retried",
    ),
    Mutant(
        "max-images-equality",
        "runner/gitops/project.py",
        "if max_images is not None and images > max_images:",
        "if max_images is not None and images >= max_images:",
        (GITOPS + "test_lock_and_budget.py",),
        "a run billing exactly --max-images is refused",
    ),
    # -- fingerprints, journal key, journal ------------------------------------------------------
    Mutant(
        "fingerprint-image-by-name",
        "runner/gitops/fingerprint.py",
        "return hashes.input(request.job.recipe.resolved, ref.value)",
        "return ref.value",
        (GITOPS + "test_plan.py",),
        "an input image is identified by its name, not its bytes",
    ),
    Mutant(
        "hash-cache-ignores-mtime",
        "runner/gitops/fingerprint.py",
        "if known and known[:2] == (stat.st_size, stat.st_mtime_ns):",
        "if known:",
        (GITOPS + "test_hash_cache.py", GITOPS + "test_plan.py"),
        "a rewritten image keeps its cached hash",
    ),
    Mutant(
        "journal-key-without-target",
        "runner/recipes/wire.py",
        'ident = {"target": target, "recipe": recipe, "job": job.name, "request": digest}',
        'ident = {"recipe": recipe, "job": job.name, "request": digest}',
        (RUN + "test_run.py",),
        "a job done on one target is skipped on another",
    ),
    Mutant(
        "journal-no-fsync",
        "runner/engine/journal.py",
        "            os.fsync(self._file.fileno())\n",
        "",
        (RUN + "test_journal_replay.py", RUN + "test_journal.py"),
        "a task id is written but not made durable before the run goes on",
    ),
    Mutant(
        "journal-torn-line-glued",
        "runner/engine/journal.py",
        'if text and not text.endswith("\\n"):',
        "if False:",
        (RUN + "test_journal.py",),
        "the entry after a crash-cut line is glued to it and lost",
    ),
    Mutant(
        "journal-finished-any-task",
        "runner/engine/journal.py",
        'elif event in ("finished", "canceled", "expired") and task_id == record.task_id:',
        'elif event in ("finished", "canceled", "expired"):',
        (RUN + "test_journal_replay.py", RUN + "test_journal.py"),
        "a late end of an old task is taken for the job's current task",
    ),
    # -- run guard, limits, retries, errors, exit codes -----------------------------------------
    Mutant(
        "guard-not-reentrant",
        "runner/engine/guard.py",
        "is_singleton=True",
        "is_singleton=False",
        (RUN + "test_journal_replay.py", RUN + "test_journal.py"),
        "the CLI's guard and the journal's guard refuse each other in one process",
    ),
    Mutant(
        "guard-owner-left-behind",
        "runner/engine/guard.py",
        "            owner.unlink(missing_ok=True)\n",
        "            pass\n",
        (RUN + "test_journal_replay.py",),
        "the owner file outlives the guard and names a process that is gone",
    ),
    Mutant(
        "limiter-full-burst",
        "runner/api/limits.py",
        "burst = max(1, math.floor(rate) - 1)",
        "burst = max(1, math.floor(rate))",
        (RUN + "test_limits.py",),
        "the runner's bucket is as large as the service's, so an early request draws a 429",
    ),
    Mutant(
        "submit-gate-exclusive-starves",
        "runner/api/limits.py",
        "wait_for(lambda: not self._exclusive and not self._waiting)",
        "wait_for(lambda: not self._exclusive)",
        (RUN + "test_limits.py",),
        "new submissions overtake the search for a lost task",
    ),
    Mutant(
        "retry-everything",
        "runner/api/retries.py",
        "return isinstance(exc, TransportError)",
        "return True",
        (RUN + "test_errors.py",),
        "a rejected request is sent again",
    ),
    Mutant(
        "retry-after-ignored",
        "runner/api/retries.py",
        "return True if exc.retry_after is None else exc.retry_after",
        "return True",
        (RUN + "test_errors.py",),
        "the server's Retry-After is not honoured",
    ),
    Mutant(
        "skipped-is-failure",
        "runner/engine/states.py",
        "return Exit.OK if self.count(SUCCEEDED, SKIPPED) == len(self.jobs) else Exit.FAILED",
        "return Exit.OK if self.count(SUCCEEDED) == len(self.jobs) else Exit.FAILED",
        (RUN + "test_exit_codes.py",),
        "a rerun that finds everything done exits 3",
    ),
    # -- plan, shards ----------------------------------------------------------------------------
    Mutant(
        "plan-ignores-output-drift",
        "runner/gitops/plan.py",
        "job.status = CHANGED if job.reasons else UNCHANGED",
        "job.status = UNCHANGED",
        (GITOPS + "test_plan.py",),
        "a missing or edited output is planned as unchanged",
    ),
    Mutant(
        "shards-overlap",
        "runner/recipes/graph.py",
        "if lightest == index - 1:",
        "if lightest <= index - 1:",
        (GITOPS + "test_plan.py",),
        "a job runs in more than one shard",
    ),
    # -- files on disk, provenance, secrets -----------------------------------------------------
    Mutant(
        "download-temp-left",
        "runner/engine/results.py",
        "            except BaseException:\n                spool.discard()\n                raise",
        "            except BaseException:\n                raise",
        (RUN + "test_run.py",),
        "a cut-off download leaves its temporary file behind",
    ),
    Mutant(
        "png-chunk-bad-crc",
        "spec/formats/png.py",
        'struct.pack(">I", zlib.crc32(kind + data))',
        'struct.pack(">I", zlib.crc32(data))',
        (RUN + "test_png_provenance.py", RUN + "test_outputs.py", "tests/spec/test_png.py"),
        "the provenance chunks carry a wrong CRC, so readers reject the PNG",
    ),
    Mutant(
        "signed-url-kept",
        "runner/api/errors.py",
        'return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))',
        "return str(url)",
        (RUN + "test_errors.py", RUN + "test_outputs.py"),
        "messages and provenance keep a signed URL's credentials",
    ),
    Mutant(
        "target-repr-shows-key",
        "runner/api/targets.py",
        "api_key: str = field(repr=False)",
        "api_key: str",
        (RUN + "test_targets.py",),
        "printing or logging a target shows the API key",
    ),
    # -- recipe validation -----------------------------------------------------------------------
    Mutant(
        "path-escapes-root",
        "runner/recipes/check.py",
        "if not candidate.is_relative_to(recipe.root):",
        "if False:",
        ("tests/test_recipe_cases.py",),
        "a recipe may read files outside the project",
    ),
    Mutant(
        "boxes-per-image-off-by-one",
        "spec/checks.py",
        "if limit and len(per_image) > limit:",
        "if limit and len(per_image) >= limit:",
        ("tests/spec/test_boxes.py", "tests/spec/test_request_checks.py"),
        "two boxes on one image, which the service allows, are refused",
    ),
    # -- the emulator ------------------------------------------------------------------------------
    Mutant(
        "emulator-any-scheme",
        "emulator/state/accounts.py",
        'if scheme.lower() != "bearer" or not _acceptable(key, allowed):',
        "if not _acceptable(key, allowed):",
        (EMU + "test_emulator_accounts.py",),
        "a key sent without `Bearer` is accepted",
    ),
    Mutant(
        "emulator-bucket-overdraws",
        "emulator/state/throttle.py",
        "if self.tokens < 1:",
        "if self.tokens < 0:",
        (EMU + "test_emulator_throttle.py",),
        "one request more than the rate gets through",
    ),
    Mutant(
        "emulator-cap-exceeded",
        "emulator/state/tasks.py",
        "if not self.waiting or len(self.running) >= self.cap:",
        "if not self.waiting or len(self.running) > self.cap:",
        (EMU + "test_emulator_throttle.py", EMU + "test_emulator_tasks.py"),
        "one task more than max_in_flight runs at once",
    ),
    Mutant(
        "emulator-all-failed-succeeds",
        "emulator/state/tasks.py",
        "bool(self.failed_images) and len(self.failed_images) >= self.brief.count",
        "bool(self.failed_images) and len(self.failed_images) > self.brief.count",
        (EMU + "test_emulator_faults.py", EMU + "test_emulator_tasks.py"),
        "a task whose every image failed ends SUCCEEDED with none",
    ),
]


IMPORTABLE = ".importable"  # in a copy: the package laid out as installed, for PYTHONPATH


def copy_project(into: Path) -> Path:
    """The project's files (no virtualenv, git or caches) under `into`, and beside them the
    `wanform` package made of the copy's folders (links), which imports ahead of the installed
    one."""
    tree = into / "wanform"
    shutil.copytree(ROOT, tree, ignore=IGNORED, symlinks=True)
    package = tree / IMPORTABLE / "wanform"
    package.mkdir(parents=True)
    (package / "__init__.py").symlink_to(tree / "package" / "__init__.py")
    for part in PACKAGES:
        (package / part).symlink_to(tree / part, target_is_directory=True)
    return tree


def mutated(text: str, mutant: Mutant) -> str:
    """`text` with the change made; ValueError unless the snippet occurs exactly once and the
    changed file still compiles (a mutant that breaks the syntax measures nothing)."""
    found = text.count(mutant.original)
    if found != 1:
        raise ValueError(f"snippet found {found} times in {mutant.path}, not once")
    changed = text.replace(mutant.original, mutant.replacement)
    try:
        compile(changed, mutant.path, "exec")
    except SyntaxError as exc:
        raise ValueError(f"{mutant.path} no longer compiles: {exc}") from None
    return changed


def apply(tree: Path, mutant: Mutant) -> None:
    """Make the change in `tree`; ValueError if `mutated` refuses it."""
    path = tree / mutant.path
    path.write_text(mutated(path.read_text(encoding="utf-8"), mutant), encoding="utf-8")


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / IMPORTABLE), "PYTHONDONTWRITEBYTECODE": "1"}


def imports_from(tree: Path) -> str:
    """'' when the copy's packages are the ones imported there, else what was imported instead."""
    code = (
        "import importlib, sys; print(*(importlib.import_module(p).__file__ for p in sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *(f"wanform.{p}" for p in PACKAGES)],
        cwd=tree,
        env=environment(tree),
        capture_output=True,
        text=True,
        timeout=60,
    )
    files = done.stdout.split()
    if done.returncode != 0 or len(files) != len(PACKAGES):
        return done.stderr.strip() or "the import check printed nothing"
    strays = [f for f in files if not Path(f).resolve().is_relative_to(tree.resolve())]
    return ", ".join(strays)


def pytest(tree: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(
        command, cwd=tree, env=environment(tree), capture_output=True, text=True, timeout=TIMEOUT
    )


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def first_failure(done: subprocess.CompletedProcess[str]) -> str:
    """The test that failed (pytest's short summary line, without the message), or its last line."""
    for line in done.stdout.splitlines():
        if line.startswith(("FAILED tests/", "ERROR tests/")):
            return line.split(" - ", 1)[0]
    return last_line(done)


def verdict(returncode: int) -> str:
    """pytest's exit: 0 all passed, 1 a test failed, 2 collection broke (the mutant broke an
    import, which the suite notices too); 3-5 mean the bench itself is wrong."""
    return {0: "survived", 1: "caught", 2: "caught"}.get(returncode, "error")


def run_mutant(mutant: Mutant) -> Outcome:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as scratch:
        tree = copy_project(Path(scratch))
        try:
            apply(tree, mutant)
        except ValueError as exc:
            return Outcome(mutant, "not-applied", time.monotonic() - started, str(exc))
        stray = imports_from(tree)
        if stray:
            return Outcome(mutant, "error", time.monotonic() - started, f"imported {stray}")
        try:
            done = pytest(tree, mutant.tests)
        except subprocess.TimeoutExpired:
            return Outcome(mutant, "caught", time.monotonic() - started, f"hung over {TIMEOUT} s")
        found = verdict(done.returncode)
        detail = first_failure(done) if found == "caught" else last_line(done)
        return Outcome(mutant, found, time.monotonic() - started, detail)


def baseline(mutants: list[Mutant]) -> str:
    """'' when every test the mutants use passes on an unmutated copy, else pytest's last line."""
    tests = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as scratch:
        tree = copy_project(Path(scratch))
        stray = imports_from(tree)
        if stray:
            return f"imported {stray}"
        done = pytest(tree, tests)
    return "" if done.returncode == 0 else last_line(done)


def preflight(mutants: list[Mutant]) -> list[Outcome]:
    """Mutants that `mutated` refuses on the tree, checked before any copy."""
    missing = []
    for mutant in mutants:
        try:
            mutated((ROOT / mutant.path).read_text(encoding="utf-8"), mutant)
        except ValueError as exc:
            missing.append(Outcome(mutant, "not-applied", 0.0, str(exc)))
    return missing


def table(outcomes: list[Outcome]) -> str:
    width = max(len(o.mutant.name) for o in outcomes)
    rows = [f"{'mutant':<{width}}  {'verdict':<11}  {'seconds':>7}  detail"]
    for o in outcomes:
        detail = f"slipped through: {o.mutant.breaks}" if o.verdict == "survived" else o.detail
        rows.append(f"{o.mutant.name:<{width}}  {o.verdict:<11}  {o.seconds:>7.1f}  {detail}")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run this mutant only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = parser.parse_args()
    names = {m.name for m in MUTANTS}
    if len(names) != len(MUTANTS):
        parser.error("two mutants share a name")
    unknown = set(args.only or ()) - names
    if unknown:
        parser.error(f"unknown mutant {', '.join(sorted(unknown))}; see --list")
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        print("\n".join(f"{m.name}: {m.path}: {m.breaks}" for m in chosen))
        return 0
    started = time.monotonic()
    missing = preflight(chosen)
    if missing:
        print(table(missing), file=sys.stderr)
        return 2
    if not args.no_baseline:
        broken = baseline(chosen)
        if broken:
            print(f"the unmutated tests fail, so no verdict means anything: {broken}")
            return 2
        print(f"baseline: the mutants' tests pass unmutated ({time.monotonic() - started:.0f} s)")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(run_mutant, chosen))
    print(table(outcomes))
    caught = sum(o.verdict == "caught" for o in outcomes)
    print(f"caught {caught} of {len(outcomes)} in {time.monotonic() - started:.0f} s")
    return 2 if any(o.verdict in ("not-applied", "error") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
