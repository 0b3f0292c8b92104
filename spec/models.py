"""The model table: every documented limit of the five Wan image models, in one place,
followed by the documented facts of the service around them (task API, uploads, polling).

Sources are named per entry: "page 000" ... "page 004" are the pages of the API documentation
set wanform is built from, by number (page 002 is
the wanx2.1-imageedit reference, page 003 the English "multi-image edit and fuse" guide);
[zh-ref] the newer Chinese API reference pages they link to, [en-ref older] the older
English wan2.6 reference, [tasks-ref] the asynchronous task management page, [upload-ref]
the temporary-file upload page. Where the documents
disagree or are silent, spec/guesses.yaml (``GUESSES``) names the point, its default and its
alternatives; ``table(variants)`` and ``choose(variants, id)`` pick one. Error codes and
messages are in spec/errors.py.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta, timezone
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

MB = 1024 * 1024
SYNC_PATH = "/services/aigc/multimodal-generation/generation"
ASYNC_GENERATION_PATH = "/services/aigc/image-generation/generation"
SYNTHESIS_PATH = "/services/aigc/image2image/image-synthesis"
SEED_MAX = 2_147_483_647  # page 003: seed in [0, 2147483647]
DATA_URI_MAX_BYTES = 10_485_760  # error-code page: "Exceeded limit on max bytes per data-uri item"
COMMON_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")

WANX21_FUNCTIONS = (
    "stylization_all",
    "stylization_local",
    "description_edit",
    "description_edit_with_mask",
    "remove_watermark",
    "expand",
    "super_resolution",
    "colorization",
    "doodle",
    "control_cartoon_feature",
)


@dataclass(frozen=True)
class Range:
    """A closed numeric interval."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class SizeRule:
    """What `size` may be in one mode: named tiers and the explicit `W*H` bounds."""

    tiers: Mapping[str, int]  # tier name -> side of the square whose area it targets
    default: str | None  # tier name, "W*H", or None for "follow the input"
    pixels: Range  # total pixels of an explicit W*H
    aspect: Range  # width / height of an explicit W*H
    multiple_of: int = 1  # the model rounds its output to this


@dataclass(frozen=True)
class Mode:
    """One way of calling a model (edit, text-to-image, image set, interleave, ...)."""

    name: str
    images: Range  # how many input images
    n: Range
    n_default: int
    size: SizeRule
    when: str = ""  # how a request ends up in this mode, for messages
    max_images: Range | None = None  # `max_images`: how many images the model may make
    max_images_default: int | None = None
    n_default_guess: str | None = None  # the guess (spec/guesses.yaml) n_default rests on

    def images_asked(self, parameters: Mapping) -> int:
        """How many images a request asks for as this table reads the documents: `max_images`
        for interleaved output, else `n`, else the default (image sets make "up to" it)."""
        if self.max_images is not None:
            return int(parameters.get("max_images", self.max_images_default or 1))
        return int(parameters.get("n", self.n_default))

    def images_at_most(self, parameters: Mapping) -> int:
        """The most images a request can bill under every reading of the documents: as asked,
        with a default that a guess decides at that guess's largest value."""
        if self.n_default_guess is not None and "n" not in parameters:
            return max(int(value) for value in GUESSES[self.n_default_guess].values)
        return self.images_asked(parameters)


@dataclass(frozen=True)
class ImageRule:
    """Limits on every input image of a model."""

    formats: tuple[str, ...]  # Pillow format names
    side: Range  # width and height, pixels
    aspect: Range | None
    max_bytes: int


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything wanform knows about one model; compared and hashed by identity."""

    name: str
    family: str  # "messages" (wan2.7, wan2.6), "images" (wan2.5), "imageedit" (wanx2.1)
    sync_path: str | None
    async_path: str
    image: ImageRule
    prompt_max: int
    negative_prompt_max: int | None
    parameters: frozenset[str]  # the parameter names the model documents
    modes: Mapping[str, Mode]
    submit_rps: float
    max_in_flight: int
    price_cny: float  # per successfully generated image, Beijing
    typical_seconds: float  # documented typical task duration
    regions: tuple[str, ...]
    boxes_per_image: int = 0  # `bbox_list`: at most this many boxes per input image
    palette_colours: Range | None = None  # `color_palette`: how many colours
    # the variants the table was built with (guess id -> value); `choose` reads them
    variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def guess(self, guess_id: str) -> str:
        """The value of a guess (spec/guesses.yaml) as this table resolves it."""
        return choose(self.variants, guess_id)

    def mode(self, name: str) -> Mode:
        return self.modes[name]


_RATIO_1_8 = Range(1 / 8, 8)
_RATIO_1_4 = Range(1 / 4, 4)
_PX_768_2048 = Range(768 * 768, 2048 * 2048)
_PX_768_1280 = Range(768 * 768, 1280 * 1280)
_PX_768_4096 = Range(768 * 768, 4096 * 4096)

_WAN27_IMAGE = ImageRule(COMMON_FORMATS, Range(240, 8000), _RATIO_1_8, 20 * MB)
_WAN27_PARAMS = frozenset(
    {
        "size",
        "n",
        "seed",
        "watermark",
        "thinking_mode",
        "enable_sequential",
        "bbox_list",
        "color_palette",
    }
)


def _wan27(name: str, price: float, pro: bool) -> ModelSpec:
    """wan2.7-image(-pro) [zh-ref]: 0-9 images, 1K/2K tiers, 4K only on pro text-to-image."""
    edit_size = SizeRule(MappingProxyType({"1K": 1024, "2K": 2048}), "2K", _PX_768_2048, _RATIO_1_8)
    t2i_tiers = {"1K": 1024, "2K": 2048, **({"4K": 4096} if pro else {})}
    t2i_size = SizeRule(
        MappingProxyType(t2i_tiers), "2K", _PX_768_4096 if pro else _PX_768_2048, _RATIO_1_8
    )
    return ModelSpec(
        name=name,
        family="messages",
        sync_path=SYNC_PATH,
        async_path=ASYNC_GENERATION_PATH,
        image=_WAN27_IMAGE,
        prompt_max=5000,
        negative_prompt_max=None,
        parameters=_WAN27_PARAMS,
        modes=MappingProxyType(
            {
                "edit": Mode(
                    "edit",
                    Range(1, 9),
                    Range(1, 4),
                    4,
                    edit_size,
                    "input images, enable_sequential off",
                    n_default_guess="wan2.7.n_default",
                ),
                "text_to_image": Mode(
                    "text_to_image",
                    Range(0, 0),
                    Range(1, 4),
                    4,
                    t2i_size,
                    "no input images, enable_sequential off",
                    n_default_guess="wan2.7.n_default",
                ),
                "sequential": Mode(
                    "sequential",
                    Range(0, 9),
                    Range(1, 12),
                    12,
                    edit_size,
                    "enable_sequential: true",
                ),
            }
        ),
        submit_rps=5,
        max_in_flight=5,
        price_cny=price,
        typical_seconds=30.0,
        regions=("cn-beijing", "ap-southeast-1"),
        boxes_per_image=2,  # page 003: "Each image can have up to 2 bounding boxes"
        palette_colours=Range(3, 10),  # page 003: "an array of 3-10 color objects"
    )


def _wan26() -> ModelSpec:
    """wan2.6-image [zh-ref newer]: edit mode 1-4 images, interleave mode 0-1 image and n=1."""
    edit_size = SizeRule(
        MappingProxyType({"1K": 1280, "2K": 2048}), "1K", _PX_768_2048, _RATIO_1_4, 16
    )
    interleave_size = SizeRule(MappingProxyType({}), None, _PX_768_1280, _RATIO_1_4, 16)
    return ModelSpec(
        name="wan2.6-image",
        family="messages",
        sync_path=SYNC_PATH,
        async_path=ASYNC_GENERATION_PATH,
        image=ImageRule(COMMON_FORMATS, Range(240, 8000), None, 10 * MB),
        prompt_max=2000,
        negative_prompt_max=500,
        parameters=frozenset(
            {
                "size",
                "n",
                "seed",
                "watermark",
                "negative_prompt",
                "prompt_extend",
                "enable_interleave",
                "max_images",
                "stream",
            }
        ),
        modes=MappingProxyType(
            {
                "edit": Mode(
                    "edit", Range(1, 4), Range(1, 4), 4, edit_size, "enable_interleave off"
                ),
                "interleave": Mode(
                    "interleave",
                    Range(0, 1),
                    Range(1, 1),
                    1,
                    interleave_size,
                    "enable_interleave: true",
                    max_images=Range(1, 5),  # [zh-ref]: max_images 1-5, default 5
                    max_images_default=5,
                ),
            }
        ),
        submit_rps=5,
        max_in_flight=5,
        price_cny=0.20,
        typical_seconds=60.0,
        regions=("cn-beijing", "ap-southeast-1", "us-east-1", "eu-central-1"),
    )


def _wan25() -> ModelSpec:
    """wan2.5-i2i-preview [zh-ref, page 003]: 1-3 images, explicit W*H only, async only."""
    size = SizeRule(MappingProxyType({}), None, _PX_768_1280, _RATIO_1_4)
    return ModelSpec(
        name="wan2.5-i2i-preview",
        family="images",
        sync_path=None,
        async_path=SYNTHESIS_PATH,
        image=ImageRule(COMMON_FORMATS, Range(384, 5000), _RATIO_1_4, 10 * MB),
        prompt_max=2000,
        negative_prompt_max=500,
        parameters=frozenset({"size", "n", "seed", "watermark", "prompt_extend"}),
        modes=MappingProxyType({"edit": Mode("edit", Range(1, 3), Range(1, 4), 4, size)}),
        submit_rps=5,
        max_in_flight=5,
        price_cny=0.20,
        typical_seconds=45.0,
        regions=("cn-beijing", "ap-southeast-1"),
    )


def _wanx21() -> ModelSpec:
    """wanx2.1-imageedit [page 002]: one base image (plus a mask), ten functions, async only."""
    no_size = SizeRule(MappingProxyType({}), None, Range(0, 0), Range(0, 0))
    return ModelSpec(
        name="wanx2.1-imageedit",
        family="imageedit",
        sync_path=None,
        async_path=SYNTHESIS_PATH,
        image=ImageRule(COMMON_FORMATS + ("TIFF",), Range(512, 4096), None, 10 * MB),
        prompt_max=800,
        negative_prompt_max=None,
        parameters=frozenset(
            {
                "n",
                "seed",
                "watermark",
                "strength",
                "top_scale",
                "bottom_scale",
                "left_scale",
                "right_scale",
                "upscale_factor",
                "is_sketch",
            }
        ),
        modes=MappingProxyType({"edit": Mode("edit", Range(1, 1), Range(1, 4), 1, no_size)}),
        submit_rps=2,
        max_in_flight=2,
        price_cny=0.14,
        typical_seconds=10.0,
        regions=("cn-beijing",),
    )


# Parameters of wanx2.1-imageedit that only mean something for some functions [page 002].
WANX21_FUNCTION_PARAMETERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "strength": frozenset({"stylization_all", "description_edit"}),
        "top_scale": frozenset({"expand"}),
        "bottom_scale": frozenset({"expand"}),
        "left_scale": frozenset({"expand"}),
        "right_scale": frozenset({"expand"}),
        "upscale_factor": frozenset({"super_resolution"}),
        "is_sketch": frozenset({"doodle"}),
    }
)


@dataclass(frozen=True)
class Guess:
    """One point where the documents are silent or disagree (an entry of spec/guesses.yaml)."""

    id: str
    topic: str
    docs: str  # what the documents say, by file
    default: str
    does: str  # what the default means
    alternatives: Mapping[str, str]  # every other value -> what it means
    why: str  # "docs lean", "robust" or "docs disagree"

    @property
    def values(self) -> tuple[str, ...]:
        return (self.default, *self.alternatives)


GUESS_REASONS = frozenset({"docs lean", "robust", "docs disagree"})
_GUESS_FIELDS = ("id", "topic", "docs", "default", "does", "alternatives", "why")


def _load_guesses() -> Mapping[str, Guess]:
    """spec/guesses.yaml, checked field by field; a malformed table fails at import."""
    import yaml  # here: most commands import this module, few read the table

    text = (Path(__file__).parent / "guesses.yaml").read_text(encoding="utf-8")
    entries = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, Guess] = {}
    for entry in entries:
        if not isinstance(entry, dict) or sorted(entry) != sorted(_GUESS_FIELDS):
            raise ValueError(f"spec/guesses.yaml: entry needs exactly {_GUESS_FIELDS}: {entry}")
        guess = Guess(
            **{k: entry[k] for k in _GUESS_FIELDS if k != "alternatives"},
            alternatives=MappingProxyType({str(k): v for k, v in entry["alternatives"].items()}),
        )
        if guess.why not in GUESS_REASONS or guess.id in out or not guess.alternatives:
            raise ValueError(f"spec/guesses.yaml: bad or repeated entry {guess.id}")
        if guess.default in guess.alternatives:
            raise ValueError(f"spec/guesses.yaml: {guess.id}: the default is an alternative")
        out[guess.id] = guess
    return MappingProxyType(out)


# Every guess wanform makes, by id: the `--variants` / WANFORM_VARIANTS keys.
GUESSES: Mapping[str, Guess] = _load_guesses()


def check_variants(variants: Mapping[str, str]) -> None:
    """Refuse a key that is no guess's id, or a value that is not one of its values."""
    for key, value in variants.items():
        if key not in GUESSES or value not in GUESSES[key].values:
            raise ValueError(f"unknown variant {key}={value}; known: {describe_variants()}")


def choose(variants: Mapping[str, str] | None, guess_id: str) -> str:
    """The value of guess `guess_id`: the one `variants` picks, else the table's default."""
    return (variants or {}).get(guess_id, GUESSES[guess_id].default)


# Models whose submission rate and tasks in flight come from a third-party note, not a page.
RATE_GUESSES: Mapping[str, str] = MappingProxyType(
    {"wan2.7-image-pro": "wan2.7.rate_limits", "wan2.7-image": "wan2.7.rate_limits"}
)


def _apply_variants(models: dict[str, ModelSpec], variants: Mapping[str, str]) -> None:
    check_variants(variants)
    chosen = MappingProxyType(dict(variants))
    for name, spec in models.items():
        modes = {
            k: (replace(m, n_default=int(choose(variants, m.n_default_guess))))
            if m.n_default_guess
            else m
            for k, m in spec.modes.items()
        }
        models[name] = replace(spec, modes=MappingProxyType(modes))
    if choose(variants, "wan2.7.rate_limits") == "2":
        for name in RATE_GUESSES:
            models[name] = replace(models[name], submit_rps=2, max_in_flight=2)
    if choose(variants, "wan2.6.limits") == "2025":
        spec = models["wan2.6-image"]
        old_size = SizeRule(MappingProxyType({}), None, _PX_768_1280, _RATIO_1_4, 16)
        modes = dict(spec.modes, edit=replace(spec.modes["edit"], size=old_size))
        image = replace(spec.image, side=Range(384, 5000))
        models["wan2.6-image"] = replace(spec, image=image, modes=MappingProxyType(modes))
    for name, spec in models.items():
        models[name] = replace(spec, variants=chosen)


def describe_variants() -> str:
    """One line naming every variant key and its possible values."""
    return ", ".join(f"{k}={'|'.join(g.values)}" for k, g in GUESSES.items())


def parse_variants(text: str | None) -> dict[str, str]:
    """Parse `key=value,key=value` (the WANFORM_VARIANTS format)."""
    pairs = [p.strip() for p in (text or "").split(",") if p.strip()]
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"variant {pair!r} is not key=value; known: {describe_variants()}")
        out[key.strip()] = value.strip()
    return out


def table(variants: Mapping[str, str] | None = None) -> Mapping[str, ModelSpec]:
    """The model table, with the documents' disagreements resolved as `variants` say."""
    models = {
        m.name: m
        for m in (
            _wan27("wan2.7-image-pro", 0.50, True),
            _wan27("wan2.7-image", 0.20, False),
            _wan26(),
            _wan25(),
            _wanx21(),
        )
    }
    _apply_variants(models, variants or {})
    return MappingProxyType(models)


MODELS: Mapping[str, ModelSpec] = table()

# Guesses that change a model's limits (`_apply_variants`): a request's acceptance rests on one
# when the model under another of its values answers otherwise.
LIMITS_GUESSES: Mapping[str, str] = MappingProxyType({"wan2.6-image": "wan2.6.limits"})


def limits_alternatives(spec: ModelSpec) -> tuple[ModelSpec, ...]:
    """`spec` under each other value of its limits guess (none if it has no such guess)."""
    guess = LIMITS_GUESSES.get(spec.name)
    if guess is None:
        return ()
    chosen = tuple(sorted(spec.variants.items()))
    return tuple(
        _variant_spec(spec.name, chosen, guess, value)
        for value in GUESSES[guess].values
        if value != spec.guess(guess)
    )


@functools.cache
def _variant_spec(
    name: str, chosen: tuple[tuple[str, str], ...], guess: str, value: str
) -> ModelSpec:
    """A model of the table built with `chosen` and `guess=value`; cached: built once a value."""
    return table({**dict(chosen), guess: value})[name]


# Fields that take only a URL, never base64 data. Page 002 on mask_image_url: "仅支持图像URL地址,
# 不支持Base64数据" (only an image URL, no base64 data).
URL_ONLY_FIELDS = frozenset({"mask_image_url"})


# The task API [tasks-ref].
class TaskStatus(StrEnum):
    """A task's `task_status` (page 002's enumeration; CANCELED from [tasks-ref])."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # page 002: the task does not exist or its state is unknown


# A task in one of these never changes again. UNKNOWN is not among them: an unknown task id may
# yet become known (a submission whose answer was lost).
ENDED_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED})
TASK_QUERY_RPS = 20  # per account: GET/cancel/list of tasks
TASK_RETENTION_SECONDS = 24 * 3600  # page 002: task data "仅保留24小时"; page 003: then UNKNOWN
TASK_LIST_WINDOW_SECONDS = 24 * 3600  # a list query spans at most 24 h, the last 24 h by default
TASK_LIST_PAGE_NO_DEFAULT = 1
TASK_LIST_PAGE_SIZE_DEFAULT = 10  # no maximum is documented
POLL_INTERVAL_SECONDS = 10.0  # [zh-ref] for wan2.5/2.6: query about every 10 s

# Request headers the service reads, each switched on by the value "enable": asynchronous
# submission (pages 000-004), `oss://` inputs from the temporary upload [upload-ref], and a
# streamed synchronous answer (page 000).
ASYNC_HEADER = "X-DashScope-Async"
OSS_RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
SSE_HEADER = "X-DashScope-SSE"
HEADER_ON = "enable"
OSS_SCHEME = "oss://"  # a temporary upload's URL

# Times in task bodies: `2026-03-26 17:16:01.663`, UTC+8 in every documented example (pages 001,
# 002); the task list filters by `YYYYMMDDhhmmss` [tasks-ref].
SERVICE_TIMEZONE = timezone(timedelta(hours=8))
TASK_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
TASK_LIST_TIME_FORMAT = "%Y%m%d%H%M%S"

# Usage as the documented answers report it: the single-image examples (pages 001, 004) count 2
# output tokens per image, and wan2.6's edit examples report all-zero token usage [zh-ref].
OUTPUT_TOKENS_PER_IMAGE = 2
TOKENLESS_MODES = frozenset({("wan2.6-image", "edit")})

# Where the service is: page 000's base_http_api_url for Beijing, and the workspace host of the
# regions that have one (page 004's ap-southeast-1 example; the SDK lists these regions).
BEIJING_BASE_URL = "https://dashscope.aliyuncs.com/api/{version}"
WORKSPACE_BASE_URL = "https://{workspace_id}.{region}.maas.aliyuncs.com/api/{version}"
WORKSPACE_REGIONS = frozenset(
    {"ap-southeast-1", "us-east-1", "cn-hongkong", "eu-central-1", "ap-northeast-1"}
)
# Each region by the city it serves from, as the region table of the docs names them.
REGION_NAMES = {
    "cn-beijing": "Beijing",
    "ap-southeast-1": "Singapore",
    "us-east-1": "Virginia",
    "cn-hongkong": "Hong Kong",
    "eu-central-1": "Frankfurt",
    "ap-northeast-1": "Tokyo",
}

# Result files: page 002 "链接仅在 24 小时内有效" (links valid for 24 hours); pages 001, 003, 004.
RESULT_TTL_SECONDS = 24 * 3600

# The temporary-upload flow [upload-ref]: the getPolicy answer and the files it admits.
UPLOAD_POLICY_RPS = 100  # per account and model
UPLOAD_POLICY_SECONDS = 300  # `expire_in_seconds`: how long a policy may be used
UPLOAD_MAX_FILE_MB = 100  # `max_file_size_mb`
UPLOAD_CAPACITY_LIMIT_MB = 999999999  # `capacity_limit_mb`, as in the documented answer
UPLOAD_TTL_SECONDS = 48 * 3600  # an uploaded file stays readable for 48 h
UPLOAD_BUCKET = "dashscope-instant"  # `upload_dir` starts with it, as do the `oss://` URLs
UPLOAD_OBJECT_ACL = "private"  # `x_oss_object_acl`
UPLOAD_FORBID_OVERWRITE = "true"  # `x_oss_forbid_overwrite`
