"""Shared fixtures and hooks: a scratch copy of tests/cases, with the input images and byte-level
cases its recipes need; a check that each test leaves the process as it found it."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

# --import-mode=importlib puts no test directory on sys.path; the browser tests' helpers say where
# their screenshots go.
sys.path.insert(0, str(Path(__file__).parent / "report"))
from report_kit import SCREENSHOTS  # noqa: E402

CASES = Path(__file__).parent / "cases"
# The API documents sit beside the checkout (../shared), as on the team's machines and in CI.
SHARED = Path(os.environ.get("WANFORM_SHARED", Path(__file__).resolve().parents[2] / "shared"))


class Documents:
    """The API documents: a page by its number ("003") or its path under ../shared."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def text(self, name: str) -> str:
        """The file's text, whitespace runs made one space (a quote may span a line break)."""
        found = sorted(self.root.glob(f"docs/{name}_*.txt")) if name.isdigit() else []
        path = found[0] if found else self.root / name
        return " ".join(path.read_text(encoding="utf-8").split())


@pytest.fixture(scope="session")
def documents() -> Documents:
    """The API documents; a test that reads them is skipped where they are absent."""
    if not (SHARED / "API-FACTS.md").is_file():
        pytest.skip(f"API documents not found at {SHARED}; set WANFORM_SHARED")
    return Documents(SHARED)


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a shell inherits SIGINT ignored, and so would every
    `wanform` the tests start: the Ctrl-C tests need it delivered, as a terminal delivers it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The suite's emulators make a task within milliseconds of its request: a rerun after a kill
    # waits a second for the dead run's last one, not the 5 s DashScope is given (the soak keeps
    # the 5 s).
    os.environ.setdefault("WANFORM_LATE_TASK_GRACE", "1")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker more than the machine has cores. Half of a worker's time goes to waiting
    on the processes, sockets and emulator clocks its tests start, so as many workers as cores
    leave them half idle (the default tier on two cores: 260 s with two workers, 187 s with
    three, 230 s with four, whose extra load slows every test)."""
    return (os.cpu_count() or 1) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Here, not beside the browser tests: under pytest-xdist only the main process prints a
    summary, and it loads this conftest but not theirs."""
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"screenshots of the report and the dashboard: {SCREENSHOTS}")


@pytest.fixture(autouse=True)
def leaves_the_process_as_found() -> Iterator[None]:
    """A test that changes the working folder or the environment for the tests after it fails:
    under pytest-xdist, which tests come after it in its process differs from run to run."""
    folder, environment = os.getcwd(), dict(os.environ)
    yield
    assert os.getcwd() == folder, "the test changed the working folder: use monkeypatch.chdir"
    names = {*environment, *os.environ} - {"PYTEST_CURRENT_TEST"}  # pytest's own, per phase
    changed = sorted(k for k in names if environment.get(k) != os.environ.get(k))
    assert not changed, f"the test changed {changed} in os.environ: use monkeypatch.setenv"


MB = 1024 * 1024

# Images the cases read from images/, by name: (Pillow mode, width, height). Mode "1" keeps even
# 8001-pixel-wide PNGs a few kilobytes, and none of these modes carries an alpha channel.
IMAGES = {
    "w1024x768.png": ("1", 1024, 768),
    "w800x600.png": ("1", 800, 600),
    "mask_1024x768.png": ("1", 1024, 768),
    "mask_800x600.png": ("1", 800, 600),
    "w200.png": ("1", 200, 200),
    "w239x800.png": ("1", 239, 800),
    "w240.png": ("1", 240, 240),
    "w300.png": ("1", 300, 300),
    "w383x800.png": ("1", 383, 800),
    "w384.png": ("1", 384, 384),
    "w500.png": ("1", 500, 500),
    "w511x800.png": ("1", 511, 800),
    "w512.png": ("1", 512, 512),
    "w8000x1000.png": ("1", 8000, 1000),
    "w8001x2000.png": ("1", 8001, 2000),
    "w5000x1250.png": ("1", 5000, 1250),
    "w5001x2000.png": ("1", 5001, 2000),
    "w4096x1024.png": ("1", 4096, 1024),
    "w4097x1024.png": ("1", 4097, 1024),
    "w1024x4097.png": ("1", 1024, 4097),
    "w240x1920.png": ("1", 240, 1920),
    "w300x2401.png": ("1", 300, 2401),
    "w2401x300.png": ("1", 2401, 300),
    "w1024x768.jpg": ("L", 1024, 768),
    "w1024x768.bmp": ("1", 1024, 768),
    "w1024x768.webp": ("L", 1024, 768),
    "w1024x768.tif": ("1", 1024, 768),
    "gif.gif": ("P", 800, 600),
    "rgba.png": ("RGBA", 800, 600),
}

# Case files whose bytes a text file cannot hold (or that are too big to commit): name -> bytes.
# Their expectations sit in their own header lines, like every other case.
GENERATED_CASES = {
    "invalid/not-utf8-latin1.yaml": (
        b"# expect: not-utf8 4\n"
        b"# A Latin-1 e-acute in the prompt: the file is not UTF-8.\n"
        b"model: wan2.7-image\n"
        b"prompt: caf\xe9 on a rainy street\n"
        b"n: 1\n"
    ),
    "invalid/not-utf8-utf16.yaml": (
        "# expect: not-utf8 1\nmodel: wan2.7-image\nprompt: a fox\nn: 1\n".encode("utf-16")
    ),
    "invalid/file-too-large.yaml": (
        b"# expect: file-too-large 0\n"
        b"# Over the 1 MiB cap on a recipe file: refused before parsing.\n"
        b"model: wan2.7-image\nn: 1\nprompt: >-\n" + b"  a fox\n" * (MB // 8)
    ),
}


def _write_image(path: Path, mode: str, width: int, height: int) -> None:
    Image.new(mode, (width, height)).save(path)


def write_images(images: Path, outside: Path) -> None:
    """Draw every image in IMAGES, plus the odd files: not an image, too many bytes, a link out of
    the root."""
    images.mkdir(parents=True, exist_ok=True)
    for name, (mode, width, height) in IMAGES.items():
        _write_image(images / name, mode, width, height)
    (images / "notimage.png").write_text("this is text, not a PNG\n", encoding="utf-8")
    heavy = images / "w1024x768-20mb.png"
    shutil.copyfile(images / "w1024x768.png", heavy)
    with open(heavy, "r+b") as fh:  # trailing zeros after IEND: a sparse file, cheap to make
        fh.truncate(20 * MB + 1)
    outside.mkdir(parents=True, exist_ok=True)
    _write_image(outside / "secret.png", "1", 1024, 768)
    os.symlink(outside / "secret.png", images / "link-outside.png")


def case_names(kind: str) -> list[str]:
    """The case files of tests/cases/<kind>, committed and generated."""
    committed = [p.name for p in (CASES / kind).iterdir() if p.suffix in (".yaml", ".yml")]
    generated = [name.split("/", 1)[1] for name in GENERATED_CASES if name.startswith(kind + "/")]
    return sorted(committed + generated)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise `valid_case` and `invalid_case` by case file name."""
    for kind in ("valid", "invalid"):
        if f"{kind}_case" in metafunc.fixturenames:
            metafunc.parametrize(f"{kind}_case", case_names(kind))


@pytest.fixture(scope="session")
def case_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/cases with its images drawn and its byte-level cases written: the cases'
    project root."""
    base = tmp_path_factory.mktemp("recipe-cases")
    root = base / "cases"
    shutil.copytree(CASES, root)
    for name, data in GENERATED_CASES.items():
        (root / name).write_bytes(data)
    write_images(root / "images", base / "outside")
    return root
