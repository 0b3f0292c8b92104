"""YAML loading that keeps every node's line and column, and refuses what a recipe must not contain.

pyyaml composes the node graph without expanding aliases; we build plain Python
values from it ourselves, counting every node an alias expands to, so a
"billion laughs" file stops at `MAX_NODES` instead of filling memory.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass

import yaml

from wanform.spec.problems import Path

# libyaml's parser is several times faster and gives the same nodes and marks; pure Python is the
# fallback.
PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 10_000
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


START = Mark(1, 1)  # where nearly every document begins: one mark shared by all


class YamlError(ValueError):
    """A file that cannot be a recipe; carries a stable code and where it went wrong."""

    def __init__(self, code: str, message: str, mark: Mark | None = None):
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mark


class Located:
    """A YAML document as plain values, with the mark of every value and every mapping key.

    The marks are found again from the document's text the first time one below the top is asked
    for: most recipes never need one, and a run of thousands of jobs need not hold them all.
    """

    __slots__ = ("data", "root", "_text", "_marks", "_bom")

    def __init__(self, data: object, text: str | None = None, root: Mark = START) -> None:
        self.data = data
        self.root = root  # the document's own mark
        self._text = text
        self._marks: tuple[dict[Path, Mark], dict[Path, Mark]] | None = None
        self._bom: bool | None = None  # read from a file: whether it began with a BOM

    @property
    def source(self) -> str:
        """sha256 of the bytes parsed, when read from a file (else ""): the file's text
        encoded again, which gives back exactly the bytes that decoded to it."""
        if self._bom is None or self._text is None:
            return ""
        raw = ("\ufeff" if self._bom else "") + self._text
        return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()

    @property
    def values(self) -> dict[Path, Mark]:
        """The mark of every value, by path."""
        return self._located()[0]

    @property
    def keys(self) -> dict[Path, Mark]:
        """The mark of every mapping key, by the path of its value."""
        return self._located()[1]

    def _located(self) -> tuple[dict[Path, Mark], dict[Path, Mark]]:
        if self._marks is None:
            builder = _Builder(marks=True)
            if self._text is not None:
                builder.build(_compose(self._text)[0], ())
            self._marks = (builder.values, builder.keys)
        return self._marks

    def mark(self, path: Path, key: bool = False) -> Mark:
        """The mark of the deepest node on `path` that exists (a key's mark for a missing value).

        With `key`, a mapping entry is marked at its key rather than its value.
        """
        if not path:
            return self.root
        if key and tuple(path) in self.keys:
            return self.keys[tuple(path)]
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if prefix in self.values:
                return self.values[prefix]
            if prefix in self.keys:
                return self.keys[prefix]
        return START

    def text_mark(self, path: Path, offset: int) -> Mark:
        """The mark of character `offset` of the string at `path` as written (after its opening
        quote); the string's own mark when it is a block scalar or spans lines."""
        mark = self.mark(path)
        lines = (self._text or "").splitlines()
        line = lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""
        opening = line[mark.column - 1 : mark.column]
        if opening in ("|", ">") or mark.column + offset > len(line) + 1:
            return mark
        return Mark(mark.line, mark.column + offset + (opening in ("'", '"')))


def _mark(node: yaml.Node) -> Mark:
    mark = Mark(node.start_mark.line + 1, node.start_mark.column + 1)
    return START if mark == START else mark


class _Builder:
    """Turns composed nodes into values, counting expanded nodes; with `marks`, recording the
    mark of every value and key."""

    def __init__(self, marks: bool = False) -> None:
        self.constructor = yaml.SafeLoader("")
        self.marks = marks
        self.values: dict[Path, Mark] = {}
        self.keys: dict[Path, Mark] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                "yaml-too-large",
                f"the document expands to more than {MAX_NODES} nodes "
                "(aliases referring to aliases?); a recipe is far smaller",
                _mark(node),
            )
        if len(path) > MAX_DEPTH:
            raise YamlError(
                "yaml-too-deep",
                f"the document nests deeper than {MAX_DEPTH} levels (a recursive alias?)",
                _mark(node),
            )
        if self.marks:
            self.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(
                "yaml-value", f"cannot read this value: {exc.problem}", _mark(node)
            ) from exc
        # pyyaml's own scalar constructors fail this way on bad tagged values: `!!int many`,
        # `!!bool many` (KeyError), `!!int ""` (IndexError)
        except (ValueError, TypeError, AttributeError, OverflowError, LookupError) as exc:
            raise YamlError(
                "yaml-value",
                f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}",
                _mark(node),
            ) from exc

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        explicit = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        self.constructor.flatten_mapping(
            node
        )  # puts `<<` merged pairs first, explicit pairs after them
        merged = len(node.value) - explicit
        out: dict = {}
        from_merge: set = set()
        key_nodes: dict = {}  # the node each key of `out` was last given by
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.build(key_node, path + ("<key>",))
            if not isinstance(key, (str, int, float, bool)):
                raise YamlError("yaml-key", "a mapping key must be a plain scalar", _mark(key_node))
            if isinstance(key, str):
                key = sys.intern(key)  # thousands of recipes share a few keys
            if key in out and key not in from_merge:
                first = _mark(key_nodes[key])
                raise YamlError(
                    "duplicate-key",
                    f"duplicate key {key!r} (first defined on line {first.line})",
                    _mark(key_node),
                )
            # merged values yield to later merges and to explicit keys, as YAML's merge rule says
            if index < merged:
                from_merge.add(key)
            else:
                from_merge.discard(key)
            key_nodes[key] = key_node
            if self.marks:
                self.keys[path + (key,)] = _mark(key_node)
                self.values.pop(path + (key,), None)
            out[key] = self.build(value_node, path + (key,))
        if self.marks:
            self.values.pop(path + ("<key>",), None)
        return out


def _code_point(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character[:1] or "\0")


def _position_mark(text: str, position: int) -> Mark:
    """The line and column of a character offset into `text`."""
    line_start = text.rfind("\n", 0, position) + 1
    return Mark(text.count("\n", 0, position) + 1, position - line_start + 1)


def load_text(text: str) -> Located:
    """Parse one YAML document with locations;
    YamlError for anything that is not one sane document."""
    nodes = _compose(text)
    if not nodes:
        raise YamlError(
            "yaml-empty", "the file is empty; a recipe is a mapping with at least model and prompt"
        )
    if len(nodes) != 1:
        raise YamlError(
            "yaml-documents",
            f"a recipe is one YAML document; this file has {len(nodes)}",
            _mark(nodes[1]),
        )
    return Located(_Builder().build(nodes[0], ()), text, _mark(nodes[0]))


def _compose(text: str) -> list[yaml.Node]:
    """The documents' node graphs; YamlError for text that is not YAML."""
    try:
        nodes = list(yaml.compose_all(text, Loader=PARSER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        context = (
            f" ({exc.context} on line {exc.context_mark.line + 1})"
            if exc.context and exc.context_mark
            else ""
        )
        raise YamlError(
            "yaml-syntax", f"invalid YAML: {exc.problem or exc.context}{context}", where
        ) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML forbids; it has a position only
        raise YamlError(
            "yaml-syntax",
            f"invalid YAML: character U+{_code_point(exc.character):04X} is not allowed "
            f"({exc.reason})",
            _position_mark(text, exc.position),
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlError("yaml-syntax", f"invalid YAML: {exc}") from exc
    return nodes


def load_file(path: str) -> Located:
    """Read and parse a recipe file; unreadable, oversized and non-UTF-8 files are YamlErrors."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlError("unreadable", f"cannot read the file: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise YamlError(
            "file-too-large", f"the file is over {MAX_BYTES} bytes; a recipe is far smaller"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        raise YamlError("not-utf8", "the file is not valid UTF-8", Mark(line, column)) from exc
    located = load_text(text.removeprefix("\ufeff"))
    located._bom = text.startswith("\ufeff")
    return located
