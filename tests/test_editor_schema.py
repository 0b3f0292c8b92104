"""The editor's view of a project made by `wanform init`: the real yaml-language-server (what
VS Code's YAML extension runs), spoken to over LSP on stdio, loads the schemas the modelines
point at, finds nothing wrong in the files `init` wrote, and the right problems in a bad recipe.

The server comes from the npm registry: `.ci/run` installs it into `.ci-node/`
(`npm install --prefix .ci-node yaml-language-server@VERSION`). Elsewhere the test is skipped,
saying so, when it is missing; in CI (`CI` set) a missing server fails it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from wanform.runner.app.scaffold import init_project

REPO = Path(__file__).resolve().parents[1]
INSTALL = "npm install --prefix .ci-node yaml-language-server@1.19.2 (.ci/run does)"
SECONDS = 60  # a bound on a hung server, never reached when it answers
SETTINGS = {"validate": True, "hover": False, "completion": False, "schemaStore": {"enable": False}}

pytestmark = pytest.mark.slow  # node starts in about a second


def server_command() -> list[str]:
    """How to start the server: `$WANFORM_YAML_LANGUAGE_SERVER`, the one .ci/run installs, or
    one on the PATH; a skip (a failure in CI) when there is none."""
    found = [
        os.environ.get("WANFORM_YAML_LANGUAGE_SERVER"),
        str(REPO / ".ci-node/node_modules/.bin/yaml-language-server"),
        shutil.which("yaml-language-server"),
    ]
    server = next((p for p in found if p and Path(p).is_file()), None)
    node = shutil.which("node")
    if server is None or node is None:
        missing = "node" if node is None else "yaml-language-server"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is not installed, and CI must run this test: {INSTALL}")
        pytest.skip(f"{missing} is not installed: {INSTALL}")
    return [node, server, "--stdio"]


class Client:
    """The least of an LSP client: requests, notifications, answers to the server's requests,
    and the diagnostics it publishes, by document."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.next_id = 0
        self.answers: dict[int, asyncio.Future] = {}
        self.diagnostics: dict[str, asyncio.Future] = {}
        self.reader = asyncio.create_task(self._read())

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: dict) -> object:
        self.next_id += 1
        answer = self.answers[self.next_id] = asyncio.get_running_loop().create_future()
        self._send({"id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(answer, SECONDS)

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def published(self, uri: str) -> asyncio.Future:
        """The first diagnostics the server publishes for `uri`."""
        return self.diagnostics.setdefault(uri, asyncio.get_running_loop().create_future())

    async def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers = (await stream.readuntil(b"\r\n\r\n")).decode()
            length = int(headers.lower().split("content-length:")[1].split("\r\n")[0])
            self._take(json.loads(await stream.readexactly(length)))

    def _take(self, message: dict) -> None:
        method = message.get("method")
        if method is None:
            self.answers.pop(message["id"]).set_result(message.get("result"))
        elif "id" in message:  # the server asks: its settings, or leave to register
            items = (
                message["params"].get("items", []) if method == "workspace/configuration" else []
            )
            self._send({"id": message["id"], "result": [SETTINGS] * len(items) or None})
        elif method == "textDocument/publishDiagnostics":
            found = self.published(message["params"]["uri"])
            if not found.done():
                found.set_result(message["params"]["diagnostics"])


@pytest.fixture
async def server(tmp_path: Path):
    process = await asyncio.create_subprocess_exec(
        *server_command(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = Client(process)
    root = tmp_path.as_uri()
    await client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": root, "capabilities": {}, "workspaceFolders": None},
    )
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": {"yaml": SETTINGS}})
    yield client
    client.reader.cancel()
    process.kill()
    await process.wait()


async def diagnose(client: Client, path: Path) -> list[tuple[int, str]]:
    """(line from 1, message) of what the server finds in the file."""
    uri = path.as_uri()
    found = client.published(uri)
    text = path.read_text(encoding="utf-8")
    document = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})
    published = await asyncio.wait_for(found, SECONDS)
    return [(d["range"]["start"]["line"] + 1, d["message"]) for d in published]


BAD = """\
# yaml-language-server: $schema=../schemas/recipe.schema.json
model: wan2.7-imge
promt: A house.
mask: images/house.png
n: 1
"""


async def test_the_files_init_writes_get_no_diagnostic(server, tmp_path):
    """The example recipe and wanform.yaml load their schemas and are clean."""
    init_project(tmp_path)
    assert await diagnose(server, tmp_path / "recipes/example.yaml") == []
    assert await diagnose(server, tmp_path / "wanform.yaml") == []


async def test_a_bad_recipe_gets_its_problems_at_their_lines(server, tmp_path):
    """An unknown model, an unknown key and a mask given as a string, each on its line."""
    init_project(tmp_path)
    bad = tmp_path / "recipes/bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    found = sorted(await diagnose(server, bad))
    assert [line for line, _ in found] == [2, 3, 4], found
    model, key, mask = (message for _, message in found)
    assert model.startswith("Value is not accepted. Valid values:") and "wan2.7-image" in model
    assert key == "Property promt is not allowed."
    assert mask.startswith('Incorrect type. Expected "object')
