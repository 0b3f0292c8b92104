"""Two projects sharing one API key: a lost submission answer never gives a job the other
project's task (found by bench/soak.py)."""

from __future__ import annotations

import pytest
from runner_kit import KEY, make_project, run

from wanform.emulator.http.context import EMULATOR

RECIPE = "model: wan2.7-image\nprompt: {prompt}\nsize: '1024*1024'\nn: 1\nseed: 5\n"


@pytest.mark.parametrize("first", ["beta", "alpha"])
async def test_a_task_made_before_the_request_was_sent_is_not_adopted(tmp_path, emulators, first):
    """Project beta's task, made before project alpha's lost submission was sent (before or after
    alpha's last answered task), is not alpha's: alpha submits again and gets its own image."""
    emulator = await emulators()
    alpha, beta = make_project(tmp_path / "alpha"), make_project(tmp_path / "beta")
    beta.recipe("bridge", RECIPE.format(prompt="A stone bridge in fog."))
    alpha.recipe("fox", RECIPE.format(prompt="A red fox in the snow."))
    alpha.recipe("owl", RECIPE.format(prompt="An owl on a branch."))
    runs = {"beta": (beta, beta.root), "alpha": (alpha, alpha.root / "fox.yaml")}
    for name, paying in ((first, False), ("beta" if first == "alpha" else "alpha", True)):
        project, path = runs[name]
        # new to a key the other project used: it pays past the other's task only when told to
        if paying:
            assert (await run(project, emulator, str(path))).result.exit_code == 3
        done = await run(project, emulator, str(path), resubmit_unresolved=paying)
        assert done.result.exit_code == 0
    # the owl's first submission is lost before it reaches the service: no task is made
    await emulator.fault(action="drop", when="before", prompt="owl", times=1)
    # alpha pays past beta's task only once it has seen it (when alpha ran first, not yet)
    owl = (
        await run(
            alpha, emulator, str(alpha.root / "owl.yaml"), resubmit_unresolved=first == "alpha"
        )
    ).job("owl")
    state = emulator.runner.app[EMULATOR]  # type: ignore[attr-defined]  # an AppRunner
    account = state.accounts.authenticate(f"Bearer {KEY}")
    made = {task.task_id: task.brief.prompt for task in state.tasks.tasks(account)}
    assert made[owl.task_id] == "An owl on a branch.", owl
    assert owl.state == "succeeded" and len(made) == 3
