"""The suite's cases, the shipped expectations and the normalisation of answers."""

from __future__ import annotations

import json

import pytest

from wanform.runner.contract import normalise, snapshots
from wanform.runner.contract.cases import CASES, PICTURE_GUESSES, SUITE
from wanform.runner.contract.compare import differences
from wanform.runner.contract.expect import departures
from wanform.runner.contract.images import image
from wanform.runner.contract.play import observe
from wanform.runner.contract.reach import bill
from wanform.runner.contract.suite import ASYNC, Call, Case, imageedit, messages
from wanform.spec.models import ASYNC_GENERATION_PATH as GENERATION
from wanform.spec.models import GUESSES, MODELS, SYNTHESIS_PATH


def test_every_guess_has_a_case() -> None:
    """Each id of spec/guesses.yaml is the guess of at least one case, but for those about the
    pictures, which a snapshot cannot show."""
    cased = {c.guess for c in SUITE if c.guess}
    assert cased | set(PICTURE_GUESSES) == set(GUESSES) and not cased & set(PICTURE_GUESSES)


def test_case_ids_are_unique_and_succeeding_cases_bill_one_image_where_they_can() -> None:
    """No two cases share an id; a documented rule that succeeds uses the cheapest model."""
    assert len(CASES) == len(SUITE)
    cheapest = min(MODELS.values(), key=lambda m: m.price_cny).name
    assert all(c.model == cheapest and c.images == 1 for c in SUITE if c.images and not c.guess)


def test_shipped_expectations_state_what_each_case_declares() -> None:
    """Every shipped expectation shows its case's documented answer, marks its guess unverified,
    and every case not shipped is listed with the reason it was left out."""
    origin, shipped = snapshots.read(snapshots.SHIPPED)
    assert origin["target"] == "docs"
    for case_id, snap in shipped.items():
        case = CASES[case_id]
        assert departures(case, snap) == [], case_id
        assert set(snap["unverified"]) <= set(GUESSES)
        assert case.guess is None or case.guess in snap["unverified"]
    assert set(CASES) - set(shipped) == set(origin["skipped"])


def test_bill_counts_expected_and_worst_case_images() -> None:
    """The price is images times the model's list price; guessed refusals count only at most."""
    over_cap = CASES["guess.over-cap"]
    assert bill([over_cap]).images == 2
    assert bill([over_cap]).most_images == 3
    assert bill([over_cap]).most_cost == round(3 * MODELS[over_cap.model].price_cny, 6)
    assert bill([CASES["wan2.7.n-over-4"]]).most_cost == 0


def test_scrub_replaces_what_changes_or_could_be_secret() -> None:
    """URLs (with signed queries), ids, times and keys become placeholders."""
    text = (
        "task 0385dc79-5ff8-4d82-bcb6-1234567890ab at 2026-03-26 17:16:01.663 from "
        "https://x.oss.aliyuncs.com/a.png?Expires=1&Signature=abc with sk-abcdef"
    )
    assert normalise.scrub(text) == "task <id> at <time> from <url> with <key>"


def test_key_paths_merge_array_items_and_name_mixed_types() -> None:
    """Array items share one path; a value whose type varies lists every type seen."""
    body = {"output": {"results": [{"url": "u"}, {"code": "X", "message": "m"}]}, "n": None}
    assert normalise.key_paths(body) == {
        "n": "null",
        "output": "object",
        "output.results": "array",
        "output.results[]": "object",
        "output.results[].code": "string",
        "output.results[].message": "string",
        "output.results[].url": "string",
    }
    assert normalise.key_paths({"a": [1, "x"]})["a[]"] == "integer|string"


def test_observe_reads_an_event_stream() -> None:
    """An SSE answer keeps the keys of every event, its images and the names of its lines."""
    stream = (
        'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"choices":[{"message":'
        '{"content":[{"image":"https://r/1.png","type":"image"}]}}]}}\n\n'
    )
    seen = observe("POST /x", 200, {"Content-Type": "text/event-stream"}, stream)
    assert seen["stream"] == [":HTTP_STATUS", "data", "event", "id"]
    assert seen["images"] == 1
    assert "output.choices[].message.content[].image" in seen["keys"]


def test_messages_are_compared_only_where_the_documents_give_them() -> None:
    """A different message counts for a case with a documented message, not for another."""
    answer = {
        "call": "POST /x",
        "status": 400,
        "code": "InvalidParameter",
        "message": "one",
        "keys": {},
        "images": None,
        "unverified": [],
    }
    snap = {"answers": [answer], "tasks": [], "cancel": None, "images": 0}
    other = {**snap, "answers": [{**answer, "message": "two"}]}
    assert differences(CASES["wan2.7.n-over-4"], snap, other) == []
    documented = differences(CASES["body.model-unknown"], snap, other)
    assert documented == ["answer 1 (POST /x): message 'two', expected 'one'"]


def test_departures_allow_up_to_images_and_name_a_stream_where_none_belongs() -> None:
    """An image set may make fewer images than n, never none; a stream where the case declares
    plain JSON is a departure."""
    answer = {"status": 200, "code": None, "message": None, "keys": {}, "images": None}
    image_set = CASES["guess.image-set-count"]
    for images, departs in ((1, False), (2, False), (0, True), (3, True)):
        snap = {"answers": [answer], "cancel": None, "images": images}
        assert bool(departures(image_set, snap)) is departs, images
    plain = CASES["guess.stream-parameter-without-header"]
    streamed = {"answers": [{**answer, "stream": ["data"]}], "cancel": None, "images": 1}
    assert departures(plain, streamed) == [
        "answered with an event stream, the case declares plain JSON"
    ]
    assert departures(plain, {**streamed, "answers": [answer]}) == []


def test_writing_a_recording_removes_older_snapshots_of_its_cases(tmp_path) -> None:
    """A folder holds one recording: a case's snapshot left from an earlier one goes, files
    that are no case's stay."""
    (tmp_path / "auth.no-key.json").write_text("{}")
    (tmp_path / "notes.json").write_text("{}")
    origin = snapshots.provenance("emulator", "http://127.0.0.1:1/api/v1", None, {}, {})
    snapshots.write(tmp_path, {}, origin, CASES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json", "provenance.json"]


def test_provenance_names_the_region_from_the_host() -> None:
    """The region of a DashScope base URL comes from its host: the workspace host's region, the
    international and US hosts, else Beijing; other targets have none."""
    from wanform.runner.cli.contract import _region

    assert _region("dashscope", "https://ws1.ap-southeast-1.maas.aliyuncs.com/api/v1") == (
        "ap-southeast-1"
    )
    assert _region("dashscope", "https://dashscope-intl.aliyuncs.com/api/v1") == "ap-southeast-1"
    assert _region("dashscope", "https://dashscope-us.aliyuncs.com/api/v1") == "us-east-1"
    assert _region("dashscope", "https://dashscope.aliyuncs.com/api/v1") == "cn-beijing"
    assert _region("url", "http://127.0.0.1:8000/api/v1") is None


W26 = "wan2.6-image"
PNG = {"image": image(512, 512)}
FOX = {"text": "a red fox in the snow"}
# one body per model and mode, each with the most images it can bill under every guess
WORST_CASES = [
    ("wan2.7 text-to-image, n omitted", messages("wan2.7-image", [FOX]), 4),
    ("wan2.7-pro edit, n omitted", messages("wan2.7-image-pro", [PNG, FOX]), 4),
    ("wan2.7 edit, n 2", messages("wan2.7-image", [PNG, FOX], n=2), 2),
    ("wan2.7 image set, n omitted", messages("wan2.7-image", [FOX], enable_sequential=True), 12),
    ("wan2.7 image set, n 12", messages("wan2.7-image", [FOX], n=12, enable_sequential=True), 12),
    ("wan2.6 edit, n 3", messages(W26, [FOX, PNG], n=3), 3),
    ("wan2.6 edit, n omitted", messages(W26, [FOX, PNG]), 4),
    (
        "wan2.6 interleave, max_images 4",
        messages(W26, [FOX], enable_interleave=True, max_images=4),
        4,
    ),
    ("wan2.6 interleave, max_images omitted", messages(W26, [FOX], n=1, enable_interleave=True), 5),
    (
        "wan2.5, n omitted",
        {"model": "wan2.5-i2i-preview", "input": {"prompt": "p", "images": [PNG["image"]]}},
        4,
    ),
    ("wanx2.1, n omitted", {**imageedit(PNG["image"]), "parameters": {}}, 1),
    ("wanx2.1, n 3", imageedit(PNG["image"], n=3), 3),
]


@pytest.mark.parametrize(
    ("body", "most"), [case[1:] for case in WORST_CASES], ids=[case[0] for case in WORST_CASES]
)
def test_the_gate_counts_every_count_rule_at_its_maximum(body: dict, most: int) -> None:
    """A case that may bill is billed at most for what its request can make under every guess,
    whatever images its author declared."""
    call = Call("POST", SYNTHESIS_PATH if "prompt" in body["input"] else GENERATION, body, ASYNC)
    case = Case("x", "rule", "source", (call,), 200, model=body["model"], images=1)
    assert (bill([case]).most_images, bill([case]).most_cost) == (
        most,
        round(most * MODELS[body["model"]].price_cny, 6),
    )


@pytest.mark.parametrize(
    "damage", [{"date": None}, {"wanform": 1}, {"host": 5}, {"skipped": []}, {"variants": {"a": 1}}]
)
def test_a_damaged_provenance_is_a_snapshot_error(tmp_path, damage) -> None:
    """A provenance.json with a field missing or not of its type is refused when the folder is
    read, naming the file, before a check trips on it."""
    origin = snapshots.provenance("emulator", "http://127.0.0.1:1/api/v1", None, {}, {})
    snapshots.write(tmp_path, {}, origin, CASES)
    assert snapshots.read(tmp_path)[0] == origin
    path = tmp_path / "provenance.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | damage))
    with pytest.raises(snapshots.SnapshotError, match="provenance.json: not a wanform contract"):
        snapshots.read(tmp_path)
