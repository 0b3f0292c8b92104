"""The guesses table (spec/guesses.yaml): complete, well formed, and what `table` resolves."""

from __future__ import annotations

import re

import pytest

from wanform.spec.models import GUESSES, choose, table

# Every uncertain point issues 10 and 24 name, by id.
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
    # issue 24, items 5 and 7: the emulator's own choices, named
    "task.pending_body",
    "task.failed_output",
    "task.other_account",
    "wan2.7.rate_limits",
    "interleave.usage",
    "wanx2.1.output_size",
    "bbox.order",
    "bbox.outside",
    "palette.hex_short",
    "palette.hex_lowercase",
    "wanx2.1.function_params",
    "wan2.6.interleave_prompt_extend",
    "errors.wording",
    "task.list_status",
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


# A quote in an entry's `docs`: a page's number, then the page's words in single quotes.
QUOTE = re.compile(r"\b(\d{3}) '([^']+)'")


@pytest.mark.parametrize("guess", sorted(GUESSES))
def test_every_quote_of_a_page_occurs_in_that_page(guess: str, documents) -> None:
    """Each `NNN 'words'` in an entry's docs is found, word for word, in page NNN."""
    for page, quote in QUOTE.findall(GUESSES[guess].docs):
        assert " ".join(quote.split()) in documents.text(page), (guess, page, quote)


def test_image_alpha_quotes_all_four_language_versions(documents) -> None:
    """The default follows the three versions that say transparency is not supported; the
    fourth (003, English) says it is ignored."""
    quoted = dict(QUOTE.findall(GUESSES["image.alpha"].docs))
    assert sorted(quoted) == ["000", "001", "003", "004"]
    assert "ignored" in quoted["003"] and GUESSES["image.alpha"].default == "refuse"
