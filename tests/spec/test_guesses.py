"""The guesses table (spec/guesses.yaml): complete, well formed, and what `table` resolves."""

from __future__ import annotations

import pytest

from wanform.spec.models import GUESSES, choose, table

# Every uncertain point issue 10 names, by id.
EXPECTED_IDS = {
    "wan2.7.n_default",
    "wan2.6.limits",
    "sets.count",
    "service.over_cap",
    "params.other_models",
    "wan2.7.unsupported_params",
    "wan2.5.negative_prompt",
    "wanx2.1.mask_other_function",
    "wan2.6.max_images_without_interleave",
    "wan2.7.data_uri_max",
    "wan2.7.text_items",
    "prompt.empty",
    "image.alpha",
    "sse.stream_param",
    "messages.partial_failure",
    "cancel.unknown_task",
    "task.canceled_body",
    "sse.framing",
    # issue 24
    "inputs.not_fetched",
    "watermark.text",
}


def test_every_guess_is_in_the_table_with_its_sources() -> None:
    assert set(GUESSES) == EXPECTED_IDS
    for guess in GUESSES.values():
        assert guess.docs and guess.does and guess.topic, guess.id
        assert guess.why in {"docs lean", "robust", "docs disagree"}, guess.id
        assert guess.default not in guess.alternatives, guess.id


def test_choose_reads_the_variant_else_the_default() -> None:
    assert choose(None, "service.over_cap") == "429"
    assert choose({"service.over_cap": "queue"}, "service.over_cap") == "queue"
    with pytest.raises(KeyError):
        choose({}, "no.such.guess")


def test_table_carries_the_variants_to_every_model() -> None:
    models = table({"wan2.7.n_default": "1", "sets.count": "exact"})
    assert models["wan2.7-image"].modes["edit"].n_default == 1
    assert {m.guess("sets.count") for m in models.values()} == {"exact"}
    assert table()["wan2.6-image"].guess("sets.count") == "fewer"


@pytest.mark.parametrize("variants", [{"sets.count": "some"}, {"sets.cont": "exact"}])
def test_a_value_outside_the_table_is_refused(variants: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        table(variants)
