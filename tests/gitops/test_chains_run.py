"""Chains of jobs as `wanform run` and `wanform plan` meet them, as processes against an emulator:
order, upstream failures and short upstreams, change propagation, --job, --shard, kill -9."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image
from runner_kit import FOX, KEY, SHORT_TIMEOUTS, SUBMIT_PATHS, WINTER, run_cli, start_emulator

from wanform.runner.exits import Exit
from wanform.runner.gitops.links import recorded_outputs

PRINT = """\
name: print
model: wanx2.1-imageedit
function: super_resolution
prompt: Sharper.
upscale_factor: 2
inputs:
  - from: winter
n: 1
"""
RECOLOR = """\
name: recolor
model: wan2.7-image
prompt: Recolour it.
inputs:
  - from: matrix
size: 1K
n: 1
matrix:
  from:
    - {from: fox, image: 1}
    - {from: fox, image: 2}
    - {from: fox, image: 3}
"""


@pytest.fixture
async def slow_emulator():
    """An emulator whose tasks take about two seconds, so a run can be killed mid-chain."""
    started = await start_emulator(speed=15.0)
    yield started
    await started.runner.cleanup()


def chain(root: Path, n: int = 1) -> None:
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / "fox.yaml").write_text(FOX.format(n=n))
    (root / "recipes" / "winter.yaml").write_text(WINTER)
    (root / "recipes" / "print.yaml").write_text(PRINT)


async def tasks(emulator) -> list[str]:
    return [e["task_id"] for e in await emulator.requests() if e["path"] in SUBMIT_PATHS]


def report(out: str) -> dict[str, dict]:
    return {j["job"]: j for j in json.loads(out)["jobs"]}


def sidecar(root: Path, recipe: str, job: str) -> dict:
    return json.loads((root / "out" / recipe / f"{job}.json").read_text(encoding="utf-8"))


async def test_a_chain_runs_upstream_first_and_takes_its_files(project, emulator):
    """Three steps in one run: each downstream request carries the bytes its upstream wrote."""
    root = project.root
    chain(root)
    code, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.OK, err
    jobs = report(out)
    assert set(jobs) == {"fox", "winter", "print"}
    for down, up in (("winter", "fox"), ("print", "winter")):
        [made] = jobs[up]["images"]
        [taken] = sidecar(root, down, down)["inputs"]
        assert taken["sha256"] == made["sha256"] and taken["from"] == f"from:{up}"
    assert len(await tasks(emulator)) == 3


async def test_a_change_upstream_reaches_downstream_and_an_unchanged_chain_stays(project, emulator):
    """After a run nothing is pending; a new upstream seed makes both downstream steps change with
    `upstream: JOB` and run again; then the chain is unchanged again."""
    root = project.root
    chain(root)
    assert (await run_cli(root, "run", *emulator.run_target))[0] == Exit.OK
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode"))[
        0
    ] == Exit.OK
    (root / "recipes" / "fox.yaml").write_text(FOX.format(n=1).replace("seed: 1", "seed: 9"))
    code, out, _ = await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode")
    assert code == 2
    changed = [line.split()[2:] for line in out.splitlines() if line.startswith("~")]
    assert {words[0]: " ".join(words[4:]) for words in changed} == {
        "recipes/fox.yaml::fox": "seed",
        "recipes/winter.yaml::winter": "upstream: recipes/fox.yaml::fox",
        "recipes/print.yaml::print": "upstream: recipes/winter.yaml::winter",
    }
    code, _, err = await run_cli(root, "run", *emulator.run_target)
    assert code == Exit.OK, err
    assert len(await tasks(emulator)) == 6
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode"))[
        0
    ] == Exit.OK


async def test_a_change_downstream_runs_only_downstream(project, emulator):
    """Editing the last step reruns it alone; its upstream files are taken from the lock."""
    root = project.root
    chain(root)
    assert (await run_cli(root, "run", *emulator.run_target))[0] == Exit.OK
    (root / "recipes" / "print.yaml").write_text(PRINT.replace("Sharper.", "Crisper."))
    code, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.OK, err
    assert set(report(out)) == {"print"} and len(await tasks(emulator)) == 4


async def test_an_upstream_failure_skips_its_dependants_with_the_reason(project, emulator):
    """The first step fails: the two after it are blocked, never sent, and the run exits 3; the
    report shows them skipped with the reason."""
    root = project.root
    chain(root)
    await emulator.fault(action="fail", prompt="red fox", code="InternalError")
    code, out, _ = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.FAILED
    jobs = report(out)
    assert {name: j["status"] for name, j in jobs.items()} == {
        "fox": "failed",
        "winter": "blocked",
        "print": "blocked",
    }
    assert jobs["winter"]["error"]["message"] == (
        "blocked: upstream recipes/fox.yaml::fox failed (InternalError)"
    )
    assert jobs["print"]["error"]["message"] == (
        "blocked: upstream recipes/winter.yaml::winter blocked (UpstreamFailed)"
    )
    assert len(await tasks(emulator)) == 1
    code, _, err = await run_cli(root, "report")
    assert code == Exit.OK, err
    page = (root / "report" / "index.html").read_text(encoding="utf-8")
    card = page.split('data-search="recipes/winter.yaml::winter')[1].split("</article>")[0]
    assert '<span class="state state-blocked">blocked</span>' in card
    assert "blocked: upstream recipes/fox.yaml::fox failed (InternalError)" in card


async def test_a_short_upstream_skips_the_references_it_cannot_serve(project, emulator):
    """An image set (up to n images) that makes 2 of 3: the recolour of images 1 and 2 runs, that
    of image 3 is blocked, exit 3."""
    root = project.root
    (root / "recipes").mkdir()
    # seed 2: the emulator's set makes all 3 (guess `sets.count`), then the fault fails the last
    fox = FOX.format(n=3).replace("seed: 1", "seed: 2") + "enable_sequential: true\n"
    (root / "recipes" / "fox.yaml").write_text(fox)
    (root / "recipes" / "recolor.yaml").write_text(RECOLOR)
    await emulator.fault(action="partial", prompt="red fox", failed=1)
    code, out, _ = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.FAILED
    jobs = report(out)
    assert {name: j["status"] for name, j in jobs.items()} == {
        "fox": "succeeded",
        "recolor[from=fox#1]": "succeeded",
        "recolor[from=fox#2]": "succeeded",
        "recolor[from=fox#3]": "blocked",
    }
    assert jobs["recolor[from=fox#3]"]["error"]["message"] == (
        "blocked: upstream recipes/fox.yaml::fox has no image 3 (2 images made)"
    )
    # a rerun: fox is partial (its failure would fail again), the two recolours it fed stay done
    code, out, _ = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.FAILED
    assert {name: j["status"] for name, j in report(out).items()} == {
        "recolor[from=fox#3]": "blocked"
    }


@pytest.mark.parametrize(
    ("code", "reruns"),
    [("DataInspectionFailed", set()), ("InternalError.Timeout", {"sharp", "winter"})],
    ids=["partial-kept", "incomplete-resubmitted"],
)
async def test_an_upstream_with_a_failed_image_feeds_its_made_one_until_it_is_made_again(
    project, emulator, code, reruns
):
    """wanx2.1 makes 1 of 2 images. A content failure leaves it partial (not rerun): the job that
    takes its image 1 stays done. A retryable one makes it incomplete: the rerun submits it again,
    so the job that takes image 1 runs again on the new image."""
    root = project.root
    (root / "recipes").mkdir()
    sharp = PRINT.replace("name: print", "name: sharp").replace(
        "from: winter", "path: ../images/low-res-flower.jpg"
    )
    (root / "recipes" / "sharp.yaml").write_text(sharp.replace("n: 1", "n: 2"))
    (root / "recipes" / "winter.yaml").write_text(
        WINTER.replace("from: fox", "from: sharp").replace(
            "    bboxes: [[100, 100, 500, 500]]\n", ""
        )
    )
    await emulator.fault(action="partial", prompt="Sharper", failed=1, code=code, times=1)
    code_, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code_ == Exit.FAILED, err
    assert {n: j["status"] for n, j in report(out).items()} == {
        "sharp": "partial",
        "winter": "succeeded",
    }
    code_, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert set(report(out)) == reruns, err


async def test_run_job_runs_it_and_the_upstream_it_needs_only(project, emulator):
    """`--job winter` runs fox and winter, not print nor an unrelated recipe; `--job` repeated runs
    each job named; an unknown name is a usage error."""
    root = project.root
    chain(root)
    (root / "recipes" / "other.yaml").write_text(FOX.format(n=1).replace("name: fox", "name: o"))
    code, out, err = await run_cli(
        root, "run", *emulator.run_target, "--job", "winter", "-o", "json"
    )
    assert code == Exit.OK, err
    assert set(report(out)) == {"fox", "winter"}
    code, out, err = await run_cli(
        root, "run", *emulator.run_target, "--job", "print", "--job", "o", "-o", "json"
    )
    assert code == Exit.OK, err
    assert set(report(out)) == {"print", "o"}  # fox and winter are done: not run again
    code, _, err = await run_cli(root, "run", *emulator.run_target, "--job", "wolf")
    assert code == Exit.USAGE and "--job wolf: no job named wolf" in err


async def test_shards_keep_each_chain_together(project, emulator):
    """Two shards: each runs whole chains; merge-locks makes one lock holding every job once, with
    nothing left pending."""
    root = project.root
    chain(root)
    for name in ("a", "b", "c"):
        (root / "recipes" / f"{name}.yaml").write_text(
            FOX.format(n=1).replace("name: fox", f"name: {name}")
        )
    keys = []
    for k in (1, 2):
        code, _, err = await run_cli(
            root, "run", *emulator.run_target, "--shard", f"{k}/2", "--lock", f"{k}.lock"
        )
        assert code == Exit.OK, err
        keys.append(set(json.loads((root / f"{k}.lock").read_text())["jobs"]))
    chained = {f"recipes/{n}.yaml::{n}" for n in ("fox", "winter", "print")}
    assert chained <= keys[0] or chained <= keys[1]
    assert not keys[0] & keys[1] and len(keys[0] | keys[1]) == 6
    assert sorted(map(len, keys)) == [3, 3]
    code, _, err = await run_cli(root, "merge-locks", "1.lock", "2.lock")
    assert code == Exit.OK, err
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode"))[
        0
    ] == Exit.OK


async def wanform(root: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SHORT_TIMEOUTS,
        "run",
        *args,
        cwd=root,
        env={**os.environ, "DASHSCOPE_API_KEY": KEY},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def journaled(root: Path, proc, event: str, count: int) -> None:
    path = root / ".wanform" / "journal.jsonl"
    while not path.exists() or path.read_text().count(f'"event": "{event}"') < count:
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("event", "count"),
    [("submitted", 1), ("finished", 1), ("submitting", 2), ("submitted", 2)],
    ids=["upstream-running", "upstream-done", "downstream-unanswered", "downstream-running"],
)
async def test_kill_9_anywhere_in_a_chain_then_rerun_pays_each_step_once(
    project, slow_emulator, event, count
):
    """Killed while the upstream runs, after it finished, while the downstream's submission is
    unanswered (the rerun waits that request out, then finds its task), or while the downstream
    runs: the rerun makes one task a step, and the downstream takes the upstream's file."""
    emulator = slow_emulator
    root = project.root
    chain(root)
    (root / "recipes" / "print.yaml").unlink()
    unanswered = None
    if event == "submitting":
        unanswered = await emulator.fault(
            action="latency", endpoint="submit", seconds=15, prompt="winter"
        )
    args = ("--target", emulator.base_url, "--emulator-speed", "15", "-o", "json")
    first = await wanform(root, *args)
    await asyncio.wait_for(journaled(root, first, event, count), 30)
    if unanswered is not None:  # journaled before it is sent: killed once it is in its latency
        await asyncio.wait_for(emulator.fired(unanswered), 30)
    first.kill()
    await first.communicate()
    second = await wanform(root, *args)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == Exit.OK, err.decode()
    made = await tasks(emulator)
    assert len(made) == len(set(made)) == 2
    jobs = report(out.decode())
    [upstream_image] = jobs["fox"]["images"]
    [taken] = sidecar(root, "winter", "winter")["inputs"]
    assert taken["sha256"] == upstream_image["sha256"]


async def test_a_damaged_upstream_file_is_made_again_before_its_dependants_run(project, emulator):
    """A half-written upstream image (truncated after the run) is never sent downstream: the
    upstream runs again, then every step after it."""
    root = project.root
    chain(root)
    assert (await run_cli(root, "run", *emulator.run_target))[0] == Exit.OK
    image = root / "out" / "fox" / "fox-1.png"
    image.write_bytes(image.read_bytes()[:100])
    code, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.OK, err
    assert set(report(out)) == {"fox", "winter", "print"}
    [taken] = sidecar(root, "winter", "winter")["inputs"]
    assert taken["sha256"] == report(out)["fox"]["images"][0]["sha256"]


async def test_an_upstream_image_smaller_than_asked_fails_the_downstream_before_it_is_sent(
    project, emulator
):
    """The model made fox 800x800 where 1K was asked (the lock agrees): the edit whose box fits
    1024x1024 but not 800x800 fails with the recipe's line and column, and is never sent."""
    root = project.root
    chain(root)
    (root / "recipes" / "print.yaml").unlink()
    assert (await run_cli(root, "run", *emulator.run_target))[0] == Exit.OK
    image = root / "out" / "fox" / "fox-1.png"
    Image.new("RGB", (800, 800), (90, 120, 150)).save(image)
    lock = json.loads((root / "wanform.lock").read_text())
    [output] = lock["jobs"]["recipes/fox.yaml::fox"]["outputs"]
    output.update(sha256="sha256:" + hashlib.sha256(image.read_bytes()).hexdigest(), width=800)
    (root / "wanform.lock").write_text(json.dumps(lock))
    boxed = WINTER.replace("[[100, 100, 500, 500]]", "[[100, 100, 900, 900]]")
    (root / "recipes" / "winter.yaml").write_text(boxed.replace("winter.", "snow."))
    code, out, _ = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.FAILED
    jobs = report(out)
    assert set(jobs) == {"winter"} and jobs["winter"]["status"] == "failed"
    assert (
        "recipes/winter.yaml:6:14: error[bbox-outside-image]" in jobs["winter"]["error"]["message"]
    )
    assert len(await tasks(emulator)) == 2


async def test_running_one_file_runs_the_upstream_it_needs_from_other_files(project, emulator):
    """`run recipes/winter.yaml` resolves `fox` in another file and runs it first, not print."""
    root = project.root
    chain(root)
    code, out, err = await run_cli(
        root, "run", *emulator.run_target, "-o", "json", "recipes/winter.yaml"
    )
    assert code == Exit.OK, err
    assert set(report(out)) == {"fox", "winter"}


async def test_plan_draws_the_pending_graph(project):
    """`plan --graph mermaid` and `--graph dot`: the pending jobs, an edge from each input."""
    root = project.root
    chain(root)
    code, out, _ = await run_cli(root, "plan", "--graph", "mermaid")
    assert code == Exit.OK
    assert out.splitlines() == [
        "flowchart LR",
        '  j0["recipes/fox.yaml::fox<br/>new"]',
        '  j1["recipes/print.yaml::print<br/>new"]',
        '  j2["recipes/winter.yaml::winter<br/>new"]',
        "  j2 --> j1",
        "  j0 --> j2",
    ]
    code, out, _ = await run_cli(root, "plan", "--graph", "dot", "recipes/print.yaml")
    assert '  "recipes/winter.yaml::winter" -> "recipes/print.yaml::print";' in out.splitlines()


async def test_render_shows_where_an_upstream_image_will_go(project):
    """A `from:` input renders as a placeholder naming the job and image."""
    root = project.root
    chain(root)
    code, out, _ = await run_cli(root, "render", "recipes/print.yaml")
    assert code == Exit.OK
    assert '"base_image_url": "<image 1 of winter, sent when that job has made it>"' in out


def test_a_lock_written_before_outputs_kept_their_index_still_names_them():
    """An output without `index` takes it from its file name; one with `index` keeps its own."""
    entry = {
        "outputs": [
            {"path": "out/fox/fox-3.png", "sha256": "sha256:c"},
            {"index": 1, "path": "out/fox/fox-9.png", "sha256": "sha256:a"},
            {"path": "out/fox/unnumbered.png", "sha256": "sha256:x"},
        ]
    }
    assert recorded_outputs(entry, "sha256") == {3: "sha256:c", 1: "sha256:a"}
    assert recorded_outputs(entry, "path") == {3: "out/fox/fox-3.png", 1: "out/fox/fox-9.png"}


async def test_planning_one_step_counts_the_whole_chain(project):
    """`plan recipes/print.yaml` bills the two steps it needs upstream too."""
    root = project.root
    chain(root)
    code, out, _ = await run_cli(root, "plan", "recipes/print.yaml")
    assert code == Exit.OK
    assert out.splitlines()[-1].startswith(
        "plan: 3 new, 0 changed, 0 unchanged, 0 orphaned; 3 billable"
    )


async def test_independent_chains_run_side_by_side(project, emulator):
    """Two chains: both first steps are submitted before either second step, not one chain after
    the other."""
    root = project.root
    chain(root)
    (root / "recipes" / "print.yaml").unlink()
    (root / "recipes" / "cat.yaml").write_text(FOX.format(n=1).replace("name: fox", "name: cat"))
    (root / "recipes" / "cat-winter.yaml").write_text(
        WINTER.replace("name: winter", "name: cat-winter").replace("from: fox", "from: cat")
    )
    code, out, err = await run_cli(root, "run", *emulator.run_target, "-o", "json")
    assert code == Exit.OK, err
    by_task = {j["task_id"]: name for name, j in report(out).items()}
    order = [by_task[t] for t in await tasks(emulator)]
    assert sorted(order[:2]) == ["cat", "fox"] and sorted(order[2:]) == ["cat-winter", "winter"]


async def test_a_chain_listed_downstream_first_runs_with_one_task_in_flight(project, emulator):
    """Three steps of one model whose files sort downstream first, one task in flight (so two
    jobs started at once): each step starts after its upstream, and the run ends."""
    root = project.root
    (root / "recipes").mkdir()
    (root / "recipes" / "fox.yaml").write_text(FOX.format(n=1))
    (root / "recipes" / "b-winter.yaml").write_text(WINTER)
    (root / "recipes" / "a-spring.yaml").write_text(
        WINTER.replace("name: winter", "name: spring").replace("from: fox", "from: winter")
    )
    code, out, err = await run_cli(
        root, "run", *emulator.run_target, "--max-in-flight", "1", "-o", "json"
    )
    assert code == Exit.OK, err
    by_task = {j["task_id"]: name for name, j in report(out).items()}
    assert [by_task[t] for t in await tasks(emulator)] == ["fox", "winter", "spring"]
