"""`out: s3://bucket/prefix`: images go to a real S3 server (moto's, on 127.0.0.1), the lock
records where, and `plan` checks them there by HEAD."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from store_kit import StoreProject

from wanform.emulator.pytest_plugin import AdminClient
from wanform.runner.storage.s3 import Store

SUBMIT = "/api/v1/services/aigc/image-generation/generation"


@pytest.fixture
def store_project(tmp_path, s3_server, bucket, emulator) -> StoreProject:
    return StoreProject.make(tmp_path, s3_server, bucket, emulator[0])


def submissions(admin: AdminClient, project: StoreProject) -> int:
    """Tasks the project's key created (each billed)."""
    return sum(1 for r in admin.requests() if r.get("path") == SUBMIT and r.get("method") == "POST")


def lock(project: StoreProject) -> dict:
    return json.loads((project.root / "wanform.lock").read_text())["jobs"]


def test_run_stores_each_image_with_its_digest_and_the_lock_records_it(store_project):
    """Each image is an object under the prefix with its sha256 as metadata; the lock records
    its URI, digest, bytes and pixel size; nothing stays on disk."""
    done = store_project.wanform("run")
    assert done.exit_code == 0, done.output
    found = store_project.get("shots/fox/fox-1.png")
    assert found is not None
    data, headers = found
    digest = hashlib.sha256(data).hexdigest()
    assert headers["sha256"] == digest
    assert data.startswith(b"\x89PNG") and b"wanform" in data  # provenance in its text chunks
    sidecar = store_project.get("shots/fox/fox.json")
    assert sidecar is not None and json.loads(sidecar[0])["images"][0]["sha256"] == digest
    (output,) = lock(store_project)["recipes/fox.yaml::fox"]["outputs"]
    assert output["path"] == f"s3://{store_project.bucket}/shots/fox/fox-1.png"
    assert output["sha256"] == f"sha256:{digest}"
    assert output["bytes"] == len(data)
    assert output["width"] > 0 and output["height"] > 0
    assert not list((store_project.root / ".wanform" / "stage").rglob("*.png"))
    assert not (store_project.root / "out").exists()


def test_plan_finds_a_deleted_or_overwritten_object_changed(store_project):
    """`plan` HEADs the stored outputs: unchanged while they match, `changed (output ...)` once
    one is deleted or written over."""
    assert store_project.wanform("run").exit_code == 0
    plan = store_project.wanform("plan")
    assert "0 changed, 1 unchanged" in plan.output
    data, _ = store_project.get("shots/fox/fox-1.png") or (b"", {})
    store_project.put("shots/fox/fox-1.png", data + b"x", {"sha256": "0" * 64})
    uri = f"s3://{store_project.bucket}/shots/fox/fox-1.png"
    assert "~ changed   recipes/fox.yaml::fox" in (modified := store_project.wanform("plan").output)
    assert f"output modified: {uri}" in modified
    store_project.delete("shots/fox/fox-1.png")
    assert f"output missing: {uri}" in store_project.wanform("plan").output


@pytest.mark.slow  # two runs, or a run and three plans
def test_rerun_of_a_deleted_object_stores_it_again_without_paying(store_project, emulator):
    """A deleted object is fetched again from the same task and stored: no second task."""
    admin = emulator[1]
    assert store_project.wanform("run").exit_code == 0
    before = submissions(admin, store_project)
    store_project.delete("shots/fox/fox-1.png")
    again = store_project.wanform("run")
    assert again.exit_code == 0, again.output
    assert store_project.get("shots/fox/fox-1.png") is not None
    assert submissions(admin, store_project) == before


def test_wrong_credentials_stop_the_run_before_anything_is_billed(store_project, emulator):
    """Credentials the store refuses: a clear error, no task submitted."""
    admin = emulator[1]
    before = submissions(admin, store_project)
    refused = store_project.wanform("run", AWS_ACCESS_KEY_ID="AKIA-WRONG-ONE")
    assert refused.exit_code != 0
    assert "StoreUnreachable" in refused.output and "nothing was sent" in refused.output
    assert submissions(admin, store_project) == before


def test_a_missing_bucket_stops_the_run_before_anything_is_billed(store_project, emulator):
    """A bucket that does not exist: a clear error naming it, no task submitted."""
    admin = emulator[1]
    before = submissions(admin, store_project)
    store_project.bucket = "wanform-no-such-bucket"
    store_project.configure(store_project.endpoint)
    refused = store_project.wanform("run")
    assert refused.exit_code != 0
    assert "s3://wanform-no-such-bucket/shots" in refused.output
    assert "Traceback" not in refused.output
    assert submissions(admin, store_project) == before


def test_the_secret_key_is_never_written_or_printed(store_project):
    """The store's secret appears in no file the run leaves and in none of its output."""
    done = store_project.wanform("run")
    plan = store_project.wanform("plan")
    secret = store_project.server.secret
    assert secret not in done.output + plan.output
    assert secret.encode() not in store_project.written()


def test_the_start_check_says_what_the_store_refused(store_project):
    """The refusal names the store and its code, and what to do."""
    refused = store_project.wanform("run", AWS_SECRET_ACCESS_KEY="not-the-secret")
    assert f"cannot list s3://{store_project.bucket}/shots: SignatureDoesNotMatch" in refused.output
    assert "AWS_ACCESS_KEY_ID" in refused.output


@pytest.mark.slow  # two runs, or a run and three plans
def test_a_listed_plan_learns_etags_and_still_sees_deletes_and_overwrites(
    store_project, monkeypatch
):
    """The run, and a plan that lists the prefix (as for many outputs), keep each object's ETag
    and digest in .wanform/objects.json; a deleted or overwritten object is still changed."""
    monkeypatch.setattr("wanform.runner.storage.s3.LISTED_FROM", 0)
    assert store_project.wanform("run").exit_code == 0
    uri = f"s3://{store_project.bucket}/shots/fox/fox-1.png"
    cache = store_project.root / ".wanform" / "objects.json"
    data, meta = store_project.get("shots/fox/fox-1.png") or (b"", {})
    assert json.loads(cache.read_text())[uri][1] == f"sha256:{meta['sha256']}"  # from the run
    cache.unlink()
    written = store_project.root / "wanform.lock"
    old = json.loads(written.read_text())
    for entry in old["jobs"].values():  # as a lock written before ETags were kept
        for output in entry["outputs"]:
            del output["etag"]
    written.write_text(json.dumps(old))
    assert "0 changed, 1 unchanged" in store_project.wanform("plan").output
    assert json.loads(cache.read_text())[uri][1] == f"sha256:{meta['sha256']}"  # from a HEAD
    store_project.put("shots/fox/fox-1.png", data + b"x", {"sha256": "1" * 64})
    assert f"output modified: {uri}" in store_project.wanform("plan").output
    store_project.delete("shots/fox/fox-1.png")
    assert f"output missing: {uri}" in store_project.wanform("plan").output


def test_a_fresh_machine_plans_from_the_locks_etags_without_a_head(store_project, monkeypatch):
    """The lock keeps each stored output's ETag, so on a machine with no `.wanform/` (a fresh CI
    clone) a listing of the prefix settles the plan with no HEAD per object; an object written
    over since has another ETag, takes its HEAD and is changed."""
    monkeypatch.setattr("wanform.runner.storage.s3.LISTED_FROM", 0)  # list, as for many outputs
    assert store_project.wanform("run").exit_code == 0
    key = "shots/fox/fox-1.png"
    (output,) = lock(store_project)["recipes/fox.yaml::fox"]["outputs"]
    assert (
        output["etag"] == store_project.s3.head_object(Bucket=store_project.bucket, Key=key)["ETag"]
    )
    shutil.rmtree(store_project.root / ".wanform")
    (store_project.root / ".wanform").mkdir()  # a cache pairing an older ETag hides nothing
    (store_project.root / ".wanform" / "objects.json").write_text(
        json.dumps({output["path"]: ['"older"', "sha256:" + "3" * 64]})
    )
    heads: list[str] = []
    look_up = Store.digest

    async def counted(self: Store, uri: str) -> str | None:
        heads.append(uri)
        return await look_up(self, uri)

    monkeypatch.setattr(Store, "digest", counted)
    assert "0 changed, 1 unchanged" in store_project.wanform("plan").output
    assert heads == []
    data, _ = store_project.get(key) or (b"", {})
    store_project.put(key, data + b"x", {"sha256": "2" * 64})
    assert f"output modified: {output['path']}" in store_project.wanform("plan").output
    assert heads == [output["path"]]
