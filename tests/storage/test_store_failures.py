"""A store that fails in the middle of a run (the line to it cut by a proxy): the run stops, says
which billed images are not stored, keeps their tasks in the journal, and a rerun stores them from
the same tasks without paying again."""

from __future__ import annotations

import json

import pytest
from store_kit import StoreProject

import wanform
from wanform.emulator.pytest_plugin import AdminClient

SUBMIT = "/api/v1/services/aigc/image-generation/generation"
SEEDS = (
    "model: wan2.7-image\nprompt: A fox.\ninputs:\n  - path: ../images/portrait.png\nn: 1\n"
    "matrix:\n  seed: [1, 2, 3, 4]\n"
)


def submitted(admin: AdminClient) -> int:
    return sum(1 for r in admin.requests() if r.get("path") == SUBMIT and r.get("method") == "POST")


def image_stored(event: dict) -> bool:
    return event.get("event") == "downloaded"


def task_finished(event: dict) -> bool:
    return event.get("event") == "polled" and event.get("task_status") == "SUCCEEDED"


@pytest.mark.slow  # two runs each, with the store's retries spent
@pytest.mark.parametrize(
    ("cut_when", "said"),
    [
        (image_stored, "SUCCEEDED and is billed, but its sidecar could not be stored"),
        (task_finished, "SUCCEEDED and its images are billed, but none could be stored"),
    ],
    ids=["before-the-sidecar", "before-the-image"],
)
def test_a_store_cut_mid_run_loses_nothing_and_the_rerun_pays_nothing(
    tmp_path, s3_server, bucket, emulator, proxy, cut_when, said
):
    """The line is cut once a task has finished (or its image is stored): the run stops saying
    what is billed but not stored; the journal holds every task; the rerun stores the rest from
    the same tasks."""
    base_url, admin = emulator
    made = StoreProject.make(tmp_path, s3_server, bucket, base_url)
    (tmp_path / "recipes" / "fox.yaml").write_text(SEEDS)
    made.configure(proxy.endpoint)
    env = {k: v for k, v in made.env().items() if v is not None}
    project = wanform.Project(tmp_path, env=env)
    settings = wanform.RunSettings(target=base_url, emulator_speed=100, max_in_flight="1")

    def cut_after_the_first(event: dict) -> None:
        if cut_when(event):
            proxy.cut()

    before = submitted(admin)
    first = project.run(settings=settings, progress=cut_after_the_first)
    failed = [j for j in first.result.jobs if j.error is not None]
    assert failed and failed[0].error.code == "OutputNotStored"
    assert said in failed[0].error.message
    assert first.result.stopped is not None
    journal = (tmp_path / ".wanform" / "journal.jsonl").read_text()
    assert failed[0].task_id and failed[0].task_id in journal
    billed = submitted(admin) - before

    proxy.mend()
    again = project.run(settings=settings)
    assert all(j.error is None for j in again.result.jobs), [j.error for j in again.result.jobs]
    assert submitted(admin) - before == 4  # the jobs the first run never sent, and no other
    assert billed < 4
    lock = json.loads((tmp_path / "wanform.lock").read_text())["jobs"]
    assert len(lock) == 4
    assert len(made.objects()) == 8  # four images and four sidecars
