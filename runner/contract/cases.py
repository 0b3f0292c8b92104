"""The contract suite: one case per documented rule the emulator implements, one per guessed
point of spec/guesses.yaml.

Cases that succeed use the cheapest model and `n: 1` where the rule allows; the others are
refused before a task exists, which DashScope does not bill ("failed calls are not charged",
API-FACTS §2). A guessed refusal the real service might accept counts at most (`Case.at_most`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from wanform.runner.contract.images import data_uri, encoded, image, oversized
from wanform.runner.contract.suite import (
    ASYNC,
    UNKNOWN_TASK,
    Call,
    Case,
    Source,
    cite,
    generation,
    imageedit,
    messages,
    sync,
    synthesis,
)
from wanform.spec.errors import (
    ASYNC_NOT_SUPPORTED,
    BAD_URL,
    CANCEL_NOT_PENDING,
    DATA_URI_TOO_LARGE,
    DOWNLOAD_FAILED,
    EMPTY_MODEL,
    INVALID_API_KEY,
    MODEL_NOT_EXIST,
    N_MUST_BE_ONE,
    NO_API_KEY,
    NOT_JSON,
    ONE_MESSAGE,
    SYNC_NOT_SUPPORTED,
    URL_ERROR,
)
from wanform.spec.models import HEADER_ON, OSS_RESOLVE_HEADER, SSE_HEADER, SYNTHESIS_PATH

W27 = "wan2.7-image"  # the cheaper wan2.7
# a host no resolver knows (RFC 6761 reserves .invalid): DashScope cannot fetch it either
UNREACHABLE_URL = "https://wanform-contract.invalid/photo.png"
BAD = 400
TEXT = {"text": "a red fox in the snow"}
ONE_PICTURE = {"text": "one single photograph of a red apple on a table: one image, not a series"}
# the error-code page's message for a content item holding two modalities (issue 10, item 1)
ONE_MODALITY = "The item of content should be a message of a certain modal."


def _img(width: int = 256, height: int = 256, **kwargs) -> dict:
    return {"image": image(width, height, **kwargs)}


PALETTE_REST = (("#1F2A44", "35.00%"), ("#F2B880", "25.00%"))


def _palette(*colours: tuple[str, str]) -> list[dict]:
    return [{"hex": hex_code, "ratio": ratio} for hex_code, ratio in colours]


def _w27(*content: dict, **parameters: object) -> Call:
    return generation(messages(W27, list(content) or [TEXT], **{"n": 1, **parameters}))


def _w26(*content: dict, **parameters: object) -> dict:
    return messages("wan2.6-image", [TEXT, *content], **{"n": 1, **parameters})


def _wanx(**extra: object) -> Call:
    return synthesis(imageedit(image(512, 512), **extra))  # type: ignore[arg-type]


def _invalid(case_id: str, rule: str, source: Source, call: Call, **kwargs) -> Case:
    """A request the documents refuse with 400 InvalidParameter."""
    kwargs.setdefault("code", "InvalidParameter")
    return Case(case_id, rule, source, (call,), BAD, **kwargs)


ENVELOPE = (
    Case(
        "auth.no-key",
        "a request without an API key is refused",
        cite("API-FACTS", "missing key: `No API-key provided.` (Wan doc examples)"),
        (Call("POST", SYNTHESIS_PATH, imageedit(image(512, 512)), ASYNC, "none"),),
        401,
        "InvalidApiKey",
        NO_API_KEY,
    ),
    Case(
        "auth.invalid-key",
        "a request with a key DashScope does not know is refused",
        cite("002", '"message":"Invalid API-key provided."'),
        (Call("POST", SYNTHESIS_PATH, imageedit(image(512, 512)), ASYNC, "invalid"),),
        401,
        "InvalidApiKey",
        INVALID_API_KEY,
    ),
    Case(
        "route.sync-call-to-async-only",
        "an async-only endpoint called without X-DashScope-Async is refused",
        cite(
            "API-FACTS",
            '(missing → "current user api does not support synchronous calls", 403 AccessDenied',
        ),
        (synthesis(imageedit(image(512, 512)), headers={}),),
        403,
        "AccessDenied",
        SYNC_NOT_SUPPORTED,
    ),
    Case(
        "route.async-header-on-sync",
        "the synchronous endpoint refuses X-DashScope-Async",
        cite(
            "API-FACTS",
            "`Current user api does not support asynchronous calls.` (sent `X-DashScope-Async",
        ),
        (sync(messages(W27, [TEXT], n=1), ASYNC),),
        403,
        "AccessDenied",
        ASYNC_NOT_SUPPORTED,
    ),
    Case(
        "body.not-json",
        "a body that is not JSON is refused",
        cite(
            "API-FACTS",
            "| 400 | BadRequest.IllegalInput | `The input parameter requires json format.` |",
        ),
        (generation("this is not json"),),
        BAD,
        "BadRequest.IllegalInput",
        NOT_JSON,
    ),
    Case(
        "body.model-missing",
        "a body without `model` is refused",
        cite(
            "API-FACTS",
            '| 400 | BadRequest.EmptyModel | `Required parameter "model" missing from request.` |',
        ),
        (generation({"input": messages(W27, [TEXT])["input"], "parameters": {"n": 1}}),),
        BAD,
        "BadRequest.EmptyModel",
        EMPTY_MODEL,
    ),
    _invalid(
        "body.model-unknown",
        "a model name DashScope does not have is refused",
        cite(
            "API-FACTS",
            "`Model not exist.` | wrong/nonexistent model name on DashScope native",
        ),
        generation(messages("wan9.9-image", [TEXT], n=1)),
        message=MODEL_NOT_EXIST,
    ),
    _invalid(
        "body.model-wrong-endpoint",
        "a model sent to another model's endpoint is refused",
        cite(
            "API-FACTS",
            "| 400 | InvalidParameter | `url error, please check url!` | model/endpoint mismatch",
        ),
        synthesis(messages(W27, [TEXT], n=1)),
        message=URL_ERROR,
    ),
    Case(
        "body.input-missing",
        "a body without `input` is refused",
        cite(
            "API-FACTS",
            "| 400 | BadRequest.EmptyInput | `Required input parameter missing from request.` |",
        ),
        (generation({"model": W27, "parameters": {"n": 1}}),),
        BAD,
        "BadRequest.EmptyInput",
    ),
)

WAN27 = (
    _invalid(
        "wan2.7.two-messages",
        "wan2.7 takes a single message",
        cite("API-FACTS", "| 400 | InvalidParameter | `messages length only support 1`"),
        generation(
            {
                "model": W27,
                "input": {"messages": [{"role": "user", "content": [TEXT]}] * 2},
                "parameters": {"n": 1},
            }
        ),
        message=ONE_MESSAGE,
    ),
    _invalid(
        "wan2.7.no-text",
        "a wan2.7 message needs its text item",
        cite("API-FACTS", "`lack of image or text`"),
        _w27(_img()),
    ),
    _invalid(
        "wan2.7.item-two-modalities",
        "each content item holds one modality",
        cite("API-FACTS", "`The item of content should be a message of a certain modal.`"),
        _w27({"text": "a fox", "image": image()}),
        message=ONE_MODALITY,
    ),
    _invalid(
        "wan2.7.ten-images",
        "wan2.7 takes at most 9 input images",
        cite("003", "| Max input images | 9 | 4 | 3 |"),
        _w27(*[_img()] * 10, TEXT),
    ),
    _invalid(
        "wan2.7.n-over-4",
        "n is 1-4 without enable_sequential",
        cite("003", "n: Sets the number of output images. Range: 1-4"),
        _w27(TEXT, n=5),
    ),
    _invalid(
        "wan2.7.seed-out-of-range",
        "seed is in [0, 2147483647]",
        cite("003", "The value must be within the range of[0, 2147483647]"),
        _w27(TEXT, seed=2_147_483_648),
    ),
    _invalid(
        "wan2.7.4k-not-pro",
        "4K is offered by wan2.7-image-pro only",
        cite("003", "4Kis only available for wan2.7-image-pro"),
        _w27(TEXT, size="4K"),
    ),
    _invalid(
        "wan2.7.size-pixels",
        "an explicit W*H has 768*768 to 2048*2048 pixels",
        cite(
            "003",
            "Pixel range: 768*768 to 2048*2048 for editing, up to 4096*4096 for text-to-image",
        ),
        _w27(TEXT, size="500*500"),
    ),
    _invalid(
        "wan2.7.size-aspect",
        "an explicit W*H has an aspect ratio within 1:8 to 8:1",
        cite("003", "Aspect ratio: 1:8 to 8:1"),
        _w27(TEXT, size="4000*400"),
    ),
    _invalid(
        "wan2.7.bbox-count",
        "bbox_list has one entry per input image",
        cite("003", "The length of the outer list must match the number of input images."),
        _w27(_img(), TEXT, bbox_list=[[], []]),
    ),
    _invalid(
        "wan2.7.bbox-three-boxes",
        "an image has at most 2 boxes",
        cite("003", "Each image can have up to 2 bounding boxes"),
        _w27(_img(), TEXT, bbox_list=[[[0, 0, 9, 9], [10, 10, 19, 19], [20, 20, 29, 29]]]),
    ),
    _invalid(
        "wan2.7.palette-with-sequential",
        "color_palette only without enable_sequential",
        cite("003", "Only available when the sequential mode is disabled."),
        _w27(
            TEXT,
            enable_sequential=True,
            color_palette=_palette(
                ("#C2D1E6", "40.00%"), ("#1F2A44", "35.00%"), ("#F2B880", "25.00%")
            ),
        ),
    ),
    _invalid(
        "wan2.7.palette-two-colours",
        "color_palette has 3 to 10 colours",
        cite("003", "Accepts an array of 3-10 color objects"),
        _w27(
            TEXT,
            color_palette=_palette(("#C2D1E6", "60.00%"), ("#1F2A44", "40.00%")),
        ),
    ),
    _invalid(
        "wan2.7.palette-sum",
        "color_palette ratios sum to 100.00%",
        cite("003", "The sum of all ratios must equal100.00%"),
        _w27(
            TEXT,
            color_palette=_palette(
                ("#C2D1E6", "40.00%"), ("#1F2A44", "35.00%"), ("#F2B880", "15.00%")
            ),
        ),
    ),
    _invalid(
        "wan2.7.palette-ratio-format",
        "a ratio has two decimals, like 25.00%",
        cite("API-FACTS", 'ratio with exactly two decimals (e.g. `"25.00%"`)'),
        _w27(
            TEXT,
            color_palette=_palette(("#C2D1E6", "40%"), ("#1F2A44", "35%"), ("#F2B880", "25%")),
        ),
    ),
    _invalid(
        "wan2.7.image-gif",
        "input images are JPEG, PNG, BMP or WEBP",
        cite(
            "003",
            "JPEG, JPG, PNG (alpha channels are ignored), BMP, and WEBP are supported.",
        ),
        _w27(_img(fmt="GIF", mode="P"), TEXT),
    ),
    _invalid(
        "wan2.7.image-too-small",
        "input image sides are 240 to 8000 px",
        cite("003", "| Resolution (per side) | 240 - 8,000 px |"),
        _w27(_img(100, 100), TEXT),
    ),
    _invalid(
        "wan2.7.image-aspect",
        "an input image's aspect ratio is within 1:8 to 8:1",
        cite("001", "寬高比 | [1:8, 8:1]"),
        _w27(_img(2500, 250), TEXT),
    ),
    _invalid(
        "wan2.7.palette-hex",
        "a palette colour is a hex code like #C2D1E6",
        cite("003", "hex(color in hex format, e.g.#C2D1E6)"),
        _w27(
            TEXT,
            color_palette=_palette(("red", "40.00%"), ("#1F2A44", "35.00%"), ("#F2B880", "25.00%")),
        ),
    ),
    _invalid(
        "wan2.7.role-not-user",
        "the message's role is user",
        cite("API-FACTS", '`role` must be `"user"`'),
        generation(
            {
                "model": W27,
                "input": {"messages": [{"role": "assistant", "content": [TEXT]}]},
                "parameters": {"n": 1},
            }
        ),
    ),
    _invalid(
        "wan2.7.url-scheme",
        "an image is an http(s) URL or a data URI",
        cite("API-FACTS", "URL must start http://, https://, data: (with base64)"),
        _w27({"image": "ftp://example.com/a.png"}, TEXT),
        message=BAD_URL,
    ),
    _invalid(
        "wan2.7.oss-without-resolve-header",
        "an oss:// image needs X-DashScope-OssResourceResolve: enable",
        cite("API-FACTS", "oss:// needs `X-DashScope-OssResourceResolve: enable`"),
        _w27({"image": "oss://dashscope-instant/contract/2026-01-01/x/a.png"}, TEXT),
        message=BAD_URL,
    ),
    _invalid(
        "wan2.7.oss-not-uploaded",
        "an oss:// image that was never uploaded cannot be downloaded",
        cite("API-FACTS", "| 400 | InvalidParameter | `Failed to download multimodal content.`"),
        generation(
            messages(
                W27,
                [{"image": "oss://dashscope-instant/contract/2026-01-01/x/a.png"}, TEXT],
                n=1,
            ),
            headers={**ASYNC, OSS_RESOLVE_HEADER: HEADER_ON},
        ),
        message=DOWNLOAD_FAILED,
    ),
    _invalid(
        "wan2.7.data-uri-mime-mismatch",
        "a data URI's MIME type matches its bytes",
        cite(
            "003",
            "the media type of the image, which must correspond to the file format.",
        ),
        _w27({"image": data_uri(encoded(256, 256), "image/jpeg")}, TEXT),
    ),
)

OTHER_MODELS = (
    _invalid(
        "wan2.6.interleave-n-2",
        "wan2.6 interleaved output makes n=1",
        cite(
            "API-FACTS",
            "`num_images_per_prompt must be 1.` | n must be 1 (e.g. wan2.6 interleave mode",
        ),
        generation(_w26(n=2, enable_interleave=True)),
        message=N_MUST_BE_ONE,
    ),
    _invalid(
        "wan2.6.interleave-two-images",
        "wan2.6 interleaved output takes 0 or 1 image",
        cite("API-FACTS", "Count: interleave=true → 0–1 image"),
        generation(_w26(_img(512, 512), _img(512, 512), enable_interleave=True)),
    ),
    _invalid(
        "wan2.6.interleave-sync-without-stream",
        "wan2.6 interleaved output on the synchronous endpoint must be streamed",
        cite(
            "API-FACTS",
            "`stream` bool default false; **must be true** for interleave via sync endpoint",
        ),
        sync(_w26(enable_interleave=True, max_images=1)),
    ),
    _invalid(
        "wan2.6.edit-without-image",
        "wan2.6 image editing takes 1 to 4 images",
        cite("API-FACTS", "interleave=false → **1–4 images required**"),
        generation(_w26()),
    ),
    _invalid(
        "wan2.5.four-images",
        "wan2.5-i2i-preview takes at most 3 images",
        cite("API-FACTS", "`input.images` (required, array of string, **≤ 3** images"),
        synthesis(
            {
                "model": "wan2.5-i2i-preview",
                "input": {"prompt": "merge them", "images": [image(512, 512)] * 4},
                "parameters": {"n": 1},
            }
        ),
    ),
    _invalid(
        "wan2.5.size-pixels",
        "wan2.5 size has 768*768 to 1280*1280 pixels",
        cite("API-FACTS", "total pixels [768*768, 1280*1280], aspect [1:4, 4:1]"),
        synthesis(
            {
                "model": "wan2.5-i2i-preview",
                "input": {"prompt": "make it blue", "images": [image(512, 512)]},
                "parameters": {"n": 1, "size": "2048*2048"},
            }
        ),
    ),
    _invalid(
        "wanx2.1.n-over-4",
        "wanx2.1 n is 1 to 4",
        cite("002", "生成图片的数量。取值范围为1~4张,默认为1。"),
        _wanx(n=5),
    ),
    _invalid(
        "wanx2.1.expand-scale-over-2",
        "expand's scales are 1.0 to 2.0",
        cite("002", "向上按比例扩展图像。默认值为1.0,取值范围[1.0, 2.0]。"),
        _wanx(function="expand", top_scale=2.5),
    ),
    Case(
        "wanx2.1.tiff-accepted",
        "wanx2.1 takes TIFF input images",
        cite("002", "图像格式:JPG、JPEG、PNG、BMP、TIFF、WEBP。"),
        (synthesis(imageedit(image(512, 512, fmt="TIFF"))),),
        200,
        images=1,
    ),
    _invalid(
        "wanx2.1.function-unknown",
        "function is one of the ten documented functions",
        cite("API-FACTS", "`input.function` (required) ∈ `stylization_all`, `stylization_local`"),
        _wanx(function="make_it_pretty"),
    ),
    _invalid(
        "wanx2.1.mask-missing",
        "description_edit_with_mask needs mask_image_url",
        cite("002", "仅当function设置为description_edit_with_mask(局部重绘)时必填"),
        _wanx(function="description_edit_with_mask"),
    ),
    _invalid(
        "wanx2.1.mask-data-uri",
        "mask_image_url takes a URL, not base64 data",
        cite("002", "数据格式 :仅支持图像URL地址,不支持Base64数据。"),
        _wanx(function="description_edit_with_mask", mask_image_url=image(512, 512, mode="L")),
    ),
    _invalid(
        "wanx2.1.image-too-small",
        "wanx2.1 image sides are 512 to 4096 px",
        cite("002", "图像分辨率:图像的宽度和高度范围为[512, 4096]像素。"),
        synthesis(imageedit(image(256, 256))),
    ),
    _invalid(
        "wanx2.1.url-with-chinese",
        "an image URL may not contain Chinese characters",
        cite("002", "URL地址中不能包含中文字符。"),
        synthesis(imageedit("https://example.com/图片.png")),
    ),
    _invalid(
        "wanx2.1.strength-over-1",
        "strength is in [0.0, 1.0]",
        cite("API-FACTS", "`strength` [0.0, 1.0] default 0.5"),
        _wanx(function="stylization_all", strength=1.5),
    ),
    _invalid(
        "wanx2.1.data-uri-too-large",
        "a data URI carries at most 10485760 bytes",
        cite("API-FACTS", "`Exceeded limit on max bytes per data-uri item : 10485760'.`"),
        synthesis(imageedit(oversized())),
        message=DATA_URI_TOO_LARGE,
    ),
)

TASKS = (
    Case(
        "task.succeeds",
        "an accepted task goes PENDING, RUNNING, SUCCEEDED and then cannot be cancelled",
        cite(
            "API-FACTS",
            'Error (task not PENDING): HTTP **400**, `{"request_id": "…", "code": "Unsupported',
        ),
        (_wanx(),),
        BAD,
        "UnsupportedOperation",
        images=1,
        cancel="after",
        message=CANCEL_NOT_PENDING,
    ),
    Case(
        "task.unknown",
        "a task id nobody has reads UNKNOWN",
        cite("002", "UNKNOWN:任务不存在或状态未知"),
        (Call("GET", f"/tasks/{UNKNOWN_TASK}"),),
        200,
    ),
    Case(
        "upload.policy",
        "the temporary upload starts with a policy",
        cite("API-FACTS", "Upload-policy API (GET /uploads?action=getPolicy)"),
        (Call("GET", "/uploads?action=getPolicy&model=wanx2.1-imageedit"),),
        200,
    ),
    Case(
        "task.list",
        "the task list answers with pages of the last 24 h",
        cite("API-FACTS", "both missing → last 24 h; span must be ≤ 24 h"),
        (Call("GET", "/tasks"),),
        200,
    ),
)


def _guess(case_id: str, guess: str, rule: str, calls: tuple[Call, ...], status: int, **kw) -> Case:
    return Case(case_id, rule, None, calls, status, guess=guess, **kw)


# Guesses no case can settle, and why: what they decide is not in a snapshot, or the suite cannot
# make the service show it.
UNSETTLED: Mapping[str, str] = MappingProxyType(
    {
        "task.pending_body": "a snapshot keeps the shape of a task's last answer, never PENDING",
        "task.failed_output": "the real service cannot be made to fail a task on purpose",
        "task.other_account": "the suite plays with one key, of one account",
        "wan2.7.rate_limits": "the suite paces its submissions under every model's rate",
        "interleave.usage": "a snapshot keeps usage's keys and types, not its counts",
        "wanx2.1.output_size": "a snapshot counts images, not their sizes",
        "watermark.text": "a snapshot keeps no pixels, and the mark is drawn in the picture",
    }
)


GUESSED = (
    _guess(
        "guess.wan2.7-n-omitted",
        "wan2.7.n_default",
        "wan2.7 text-to-image without n makes the default number of images",
        (generation(messages(W27, [TEXT], size="1K")),),
        200,
        model=W27,
        images=4,
    ),
    _guess(
        "guess.wan2.6-size-2048",
        "wan2.6.limits",
        "wan2.6 editing takes size 2048*2048",
        (generation(_w26(_img(512, 512), size="2048*2048")),),
        200,
        model="wan2.6-image",
        images=1,
    ),
    _guess(
        "guess.image-set-count",
        "sets.count",
        # settled by a recording: 4 images say `exact`, fewer say the model decides (`fewer`,
        # which the emulator plays with a seed that makes one)
        "an image set of n: 4 whose prompt asks for one picture makes fewer than 4 images",
        (generation(messages(W27, [ONE_PICTURE], n=4, enable_sequential=True, seed=7, size="1K")),),
        200,
        model=W27,
        images=1,
    ),
    _guess(
        "guess.over-cap",
        "service.over_cap",
        "a submission beyond the model's tasks in flight is throttled",
        (_wanx(), _wanx(), _wanx()),
        429,
        code="Throttling.RateQuota",
        images=2,
    ),
    _guess(
        "guess.size-on-wanx2.1",
        "params.other_models",
        "a parameter documented for other models only (size on wanx2.1) is refused",
        (_wanx(size="1024*1024"),),
        BAD,
        code="InvalidParameter",
    ),
    _guess(
        "guess.negative-prompt-on-wan2.7",
        "wan2.7.unsupported_params",
        "negative_prompt on wan2.7 is refused",
        (_w27(TEXT, negative_prompt="blurry", size="1K"),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.wan2.5-negative-prompt-in-parameters",
        "wan2.5.negative_prompt",
        "parameters.negative_prompt on wan2.5 is refused",
        (
            synthesis(
                {
                    "model": "wan2.5-i2i-preview",
                    "input": {"prompt": "make it blue", "images": [image(512, 512)]},
                    "parameters": {"n": 1, "negative_prompt": "blurry"},
                }
            ),
        ),
        BAD,
        code="InvalidParameter",
        model="wan2.5-i2i-preview",
    ),
    _guess(
        "guess.mask-with-colorization",
        "wanx2.1.mask_other_function",
        "mask_image_url with another function than description_edit_with_mask is refused",
        (_wanx(mask_image_url=image(512, 512, mode="L")),),
        BAD,
        code="InvalidParameter",
    ),
    _guess(
        "guess.max-images-without-interleave",
        "wan2.6.max_images_without_interleave",
        "max_images without enable_interleave is refused",
        (generation(_w26(_img(512, 512), max_images=2)),),
        BAD,
        code="InvalidParameter",
        model="wan2.6-image",
    ),
    _guess(
        "guess.wan2.7-data-uri-11mb",
        "wan2.7.data_uri_max",
        "a data URI over 10485760 bytes is refused on wan2.7 too",
        (_w27({"image": oversized()}, TEXT),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.wan2.7-two-texts",
        "wan2.7.text_items",
        "a second text item in a wan2.7 message is refused",
        (_w27(TEXT, {"text": "and a moon"}, size="1K"),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.empty-prompt",
        "prompt.empty",
        "an empty prompt is refused",
        (_wanx(prompt=""),),
        BAD,
        code="InvalidParameter",
    ),
    _guess(
        "guess.transparent-png",
        "image.alpha",
        "an input PNG with an alpha channel is refused",
        (_w27(_img(mode="RGBA"), TEXT, size="1K"),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.unreachable-input-url",
        "inputs.not_fetched",
        "an input URL whose host does not resolve is taken unseen: the task succeeds",
        (synthesis(imageedit(UNREACHABLE_URL)),),
        200,
        images=1,
    ),
    _guess(
        "guess.stream-parameter-without-header",
        "sse.stream_param",
        "parameters.stream without the SSE header answers plain JSON",
        (sync(_w26(_img(512, 512), stream=True)),),
        200,
        model="wan2.6-image",
        images=1,
        streamed=False,
    ),
    _guess(
        "guess.sse-framing",
        "sse.framing",
        "a streamed answer's events carry their HTTP status line",
        (
            sync(
                _w26(enable_interleave=True, max_images=1, stream=True),
                {SSE_HEADER: HEADER_ON},
            ),
        ),
        200,
        model="wan2.6-image",
        images=1,
        streamed=True,
    ),
    _guess(
        "guess.messages-partial-failure",
        "messages.partial_failure",
        "a wan2.6 task with one of two images failed succeeds with the other",
        (generation(_w26(_img(512, 512), n=2)),),
        200,
        model="wan2.6-image",
        images=1,
        emulator_only="the real service cannot be made to fail one image on purpose",
        fault={"action": "partial", "failed": 1, "code": "DataInspectionFailed"},
    ),
    _guess(
        "guess.cancel-unknown-task",
        "cancel.unknown_task",
        "cancelling a task id nobody has is refused like a task not PENDING",
        (Call("POST", f"/tasks/{UNKNOWN_TASK}/cancel"),),
        BAD,
        code="UnsupportedOperation",
        message=CANCEL_NOT_PENDING,
    ),
    _guess(
        "guess.bbox-order",
        "bbox.order",
        "a box with x1 > x2 is refused",
        (_w27(_img(), TEXT, bbox_list=[[[50, 50, 10, 10]]]),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.bbox-outside",
        "bbox.outside",
        "a box past its image's edge is refused",
        (_w27(_img(), TEXT, bbox_list=[[[0, 0, 300, 300]]]),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.palette-hex-short",
        "palette.hex_short",
        "a palette colour in three-digit hex is refused",
        (_w27(TEXT, color_palette=_palette(("#FFF", "40.00%"), *PALETTE_REST)),),
        BAD,
        code="InvalidParameter",
        model=W27,
    ),
    _guess(
        "guess.palette-hex-lowercase",
        "palette.hex_lowercase",
        "a palette colour in lower-case hex is accepted",
        (_w27(TEXT, size="1K", color_palette=_palette(("#c2d1e6", "40.00%"), *PALETTE_REST)),),
        200,
        model=W27,
        images=1,
    ),
    _guess(
        "guess.function-parameter",
        "wanx2.1.function_params",
        "a parameter of another wanx2.1 function (top_scale with colorization) is refused",
        (_wanx(top_scale=1.5),),
        BAD,
        code="InvalidParameter",
    ),
    _guess(
        "guess.interleave-prompt-extend",
        "wan2.6.interleave_prompt_extend",
        "prompt_extend with wan2.6's interleaved output is accepted",
        (generation(_w26(enable_interleave=True, max_images=1, prompt_extend=True)),),
        200,
        model="wan2.6-image",
        images=1,
    ),
    _guess(
        "guess.refusal-wording",
        "errors.wording",
        "a refusal no page words (three boxes on one image) has wanform's own message",
        (_w27(_img(), TEXT, bbox_list=[[[0, 0, 9, 9], [10, 10, 19, 19], [20, 20, 29, 29]]]),),
        BAD,
        code="InvalidParameter",
        message="image 1 has 3 boxes; at most 2",
        model=W27,
    ),
    _guess(
        "guess.task-list-bad-status",
        "task.list_status",
        "a task list query with a status none of the six is refused",
        (Call("GET", "/tasks?status=DONE"),),
        BAD,
        code="InvalidParameter",
    ),
    _guess(
        "guess.canceled-task-body",
        "task.canceled_body",
        "a cancelled task's query body",
        (_wanx(),),
        200,
        cancel="at-once",
        emulator_only="DashScope keeps a task PENDING for milliseconds: a cancel cannot be timed",
    ),
)

SUITE: tuple[Case, ...] = (*ENVELOPE, *WAN27, *OTHER_MODELS, *TASKS, *GUESSED)
CASES = {case.id: case for case in SUITE}
