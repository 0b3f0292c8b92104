"""Helpers for the store tests: a project whose `out` is in moto's S3 server, runs through the
CLI, and the store's objects read back with boto3 (moto's own dependency)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from wanform.runner.cli import main

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sk-wanform-secret-0123456789abcdef"
FOX = "model: wan2.7-image\nprompt: A fox.\ninputs:\n  - path: ../images/portrait.png\nn: 1\n"


@dataclass
class StoreProject:
    """A project whose wanform.yaml sends its images to `s3://BUCKET/shots` at `endpoint`."""

    root: Path
    server: Any  # conftest.S3Server
    bucket: str
    target: str

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @classmethod
    def make(cls, root: Path, server: Any, bucket: str, target: str) -> StoreProject:
        shutil.copytree(REPO / "recipes" / "images", root / "images")
        (root / "recipes").mkdir()
        (root / "recipes" / "fox.yaml").write_text(FOX)
        made = cls(root, server, bucket, target)
        made.configure(server.endpoint)
        return made

    def configure(self, endpoint: str) -> None:
        (self.root / "wanform.yaml").write_text(
            f"out: s3://{self.bucket}/shots\n"
            f"storage:\n  endpoint: {endpoint}\n  region: us-east-1\n"
        )

    def env(self, **more: str | None) -> dict[str, str | None]:
        key = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return {
            "DASHSCOPE_API_KEY": f"{API_KEY}-{key}",
            "DASHSCOPE_HTTP_BASE_URL": None,
            "AWS_ACCESS_KEY_ID": self.server.access_key,
            "AWS_SECRET_ACCESS_KEY": self.server.secret,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "NO_PROXY": "127.0.0.1",
            **more,
        }

    def wanform(self, *args: str, **env: str | None) -> Result:
        argv = [args[0], "--root", str(self.root), *args[1:]]
        if args[0] in ("run", "plan"):
            argv += ["--target", self.target]
        if args[0] == "run":
            argv += ["--emulator-speed", "100"]
        return CliRunner().invoke(main, argv, env=self.env(**env), catch_exceptions=False)

    @property
    def s3(self):
        """A boto3 client of the server (moto's own dependency), as another tool would be."""
        return self.server.client()

    def get(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        """An object's bytes and user metadata, None when there is none."""
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return found["Body"].read(), found["Metadata"]

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, Metadata=metadata or {})

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def objects(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def written(self) -> bytes:
        """Every byte the runner left in the project."""
        return b"".join(p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file())
