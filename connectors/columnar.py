"""Many JSON messages to column arrays in one pass, without a Python object per row.

A Kafka poll hands out thousands of small JSON messages; decoding each with ``orjson`` and then
transposing the row dicts costs about as much again as the decoding. Here all the messages of a
poll are joined into one JSON-lines document and read by pyarrow's JSON reader straight into
columns, which become the same numpy arrays as :func:`connectors.files.rows_to_columns` builds
from the decoded rows: numbers as ``float64`` (missing values ``nan``), strings and booleans as
``object`` arrays (missing values ``None``), a column missing everywhere as ``None``.

The reader is more lenient than ``orjson`` in a few places (``NaN``/``Infinity`` literals, a
byte-order mark, several objects in one message, empty messages, unchecked UTF-8). Every
function here therefore answers ``None`` unless the result is certainly what the per-message
path would give: invalid, odd or nested input always takes that path, which classifies each
message and turns bad ones into dead letters.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

_WRAP_KEY: Final = b'{"r":'
PARALLEL_BYTES: Final = 256 * 1024
"""Polls of at least this many bytes are read in two halves on two threads (:func:`_in_halves`)."""
_DECLINE: Final = (pa.ArrowException, ValueError, TypeError)
_T = TypeVar("_T")
_NUMBER_TYPES: Final = frozenset({int, float, type(None)})


class SchemaHint:
    """The column types of a stream's previous poll, to read the next one without inference.

    pyarrow infers types from the data (a cost of its own) and types whole-second ISO 8601
    strings as timestamps, which must be read again as text; a stream's next poll almost always
    has the types of its last one, so reading it with that schema (times as text, integers as
    float, null-typed fields left to inference) skips inference and parses such times once. Anything the hint cannot read exactly like
    inference would (a value of another type, a hinted field absent or null throughout) is read
    again without it. One per stream (a Kafka source); the two halves of a poll share it.
    """

    __slots__ = ("schema",)

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None


def objects_to_columns(
    values: Sequence[bytes], hint: SchemaHint | None = None
) -> dict[str, np.ndarray] | None:
    """Columns of one-object messages (format ``json``), or ``None`` to decode one by one.

    Parameters
    ----------
    values
        Raw message values, each expected to be one JSON object on one line.
    hint
        The stream's :class:`SchemaHint`: read with the previous poll's types, and updated.

    Returns
    -------
    dict or None
        Column name to array, ``len(values)`` rows, in the order rows would have had; ``None``
        when any message is not a flat JSON object or anything else is not certain.

    Examples
    --------
    >>> cols = objects_to_columns([b'{"a": 1, "b": "x"}', b'{"a": 2.5}'])
    >>> cols["a"].tolist(), cols["b"].tolist()
    ([1.0, 2.5], ['x', None])
    >>> objects_to_columns([b'{"a": 1}', b'[1, 2]']) is None
    True
    """
    if not values:
        return None
    parts = _in_halves(functools.partial(_objects, hint=hint), values)
    if any(p is None for p in parts):
        return None
    return concat_columns([p for p in parts if p is not None])


def _objects(values: Sequence[bytes], hint: SchemaHint | None) -> dict[str, np.ndarray] | None:
    wrapped = _read_wrapped(values, hint)
    if wrapped is None or not pa.types.is_struct(wrapped.type):
        return None
    kind = wrapped.type
    return _table_columns(wrapped.flatten(), [kind.field(i).name for i in range(kind.num_fields)])


def batches_to_columns(
    values: Sequence[bytes], hint: SchemaHint | None = None
) -> tuple[dict[str, np.ndarray], list[int]] | None:
    """Columns of batch messages (format ``json_batch``) and the number of rows of each message.

    Every message must be the same form: a JSON array of flat objects, or a columnar object
    ``{"col": [...], ...}`` with equally long arrays and the same columns in every message.
    Anything else (mixed forms, a non-object item, unequal lengths, nested values) gives ``None``.
    ``hint`` is the stream's :class:`SchemaHint`, as for :func:`objects_to_columns`.

    Examples
    --------
    >>> cols, sizes = batches_to_columns([b'[{"a": 1}, {"a": 2}]', b'[{"a": 3, "b": "x"}]'])
    >>> cols["a"].tolist(), cols["b"].tolist(), sizes
    ([1.0, 2.0, 3.0], [None, None, 'x'], [2, 1])
    >>> cols, sizes = batches_to_columns([b'{"a": [1, 2], "b": ["x", "y"]}'])
    >>> cols["b"].tolist(), sizes
    (['x', 'y'], [2])
    >>> batches_to_columns([b'{"a": [1, 2], "b": ["x"]}']) is None
    True
    """
    if not values:
        return None
    firsts = {v.lstrip()[:1] for v in values}
    if firsts == {b"{"}:
        # pyarrow is faster; orjson takes what it declines (e.g. an array starting with null,
        # which pyarrow 26 reads into an invalid array)
        return _arrow_batches(values, hint) or _columnar_batches(values)
    if firsts != {b"["}:
        return None
    return _arrow_batches(values, hint)


def _arrow_batches(
    values: Sequence[bytes], hint: SchemaHint | None
) -> tuple[dict[str, np.ndarray], list[int]] | None:
    parts = _in_halves(functools.partial(_arrow_batch_part, hint=hint), values)
    if any(p is None for p in parts):
        return None
    columns = concat_columns([p[0] for p in parts if p is not None])
    if columns is None:
        return None
    return columns, [size for p in parts if p is not None for size in p[1]]


def _in_halves(read: Callable[[Sequence[bytes]], _T | None], values: Sequence[bytes]) -> list[_T | None]:
    """``read`` of the first and the second half of ``values``, the second on its own thread.

    pyarrow parses without the GIL, so on two cores this halves the time of a large poll. Each
    half is one block for pyarrow: its own reader (several blocks) would silently turn a number
    into text when an earlier block typed the column as text; halves read apart give different
    array types instead, which :func:`concat_columns` refuses.
    """
    if len(values) < 2 or sum(map(len, values)) < PARALLEL_BYTES:
        return [_declining(read, values)]
    mid = len(values) // 2
    second: list[_T | None] = []
    worker = threading.Thread(target=lambda: second.append(_declining(read, values[mid:])), name="json-read")
    worker.start()
    first = _declining(read, values[:mid])
    worker.join()
    return [first, second[0] if second else None]


def _declining(read: Callable[[Sequence[bytes]], _T | None], values: Sequence[bytes]) -> _T | None:
    try:
        return read(values)
    except _DECLINE:  # pyarrow can trip over odd input: decline
        return None


def _arrow_batch_part(
    values: Sequence[bytes], hint: SchemaHint | None
) -> tuple[dict[str, np.ndarray], list[int]] | None:
    wrapped = _read_wrapped(values, hint)
    if wrapped is None:
        return None
    kind = wrapped.type
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        items = wrapped.flatten()
        if items.null_count:  # a null item is a dead letter (not_an_object)
            return None
        sizes = pc.list_value_length(wrapped).to_numpy(zero_copy_only=False)
        names = [kind.value_type.field(i).name for i in range(kind.value_type.num_fields)]
        columns = _table_columns(items.flatten(), names)
    elif pa.types.is_struct(kind):
        fields = wrapped.flatten()
        names = [kind.field(i).name for i in range(kind.num_fields)]
        if not fields or any(
            f.null_count or not pa.types.is_list(f.type) or pa.types.is_null(f.type.value_type)
            for f in fields
        ):
            return None
        lengths = [pc.list_value_length(f).to_numpy(zero_copy_only=False) for f in fields]
        sizes = lengths[0]
        if any(not np.array_equal(sizes, other) for other in lengths[1:]):
            return None
        columns = _table_columns([f.flatten() for f in fields], names)
    else:
        return None
    if columns is None:
        return None
    return columns, [int(s) for s in sizes]


def concat_columns(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    """Column dicts of consecutive chunks as one, or ``None`` when a column's type differs.

    A column absent from a chunk, or ``None`` throughout it, is missing there (``nan`` in a
    float column, ``None`` otherwise); a column that is float in one chunk and text in another
    would be typed differently by the per-message path, so that gives ``None``.

    Examples
    --------
    >>> c = concat_columns([{"a": np.array([1.0])}, {"a": np.array([2.0]), "b": np.array(["x"], dtype=object)}])
    >>> c["a"].tolist(), c["b"].tolist()
    ([1.0, 2.0], [None, 'x'])
    """
    if len(parts) == 1:
        return dict(parts[0])
    kinds: dict[str, np.dtype] = {}
    for part in parts:
        for name, array in part.items():
            if kinds.setdefault(name, array.dtype) != array.dtype:
                kinds[name] = np.dtype(np.float64)  # one side must be missing everywhere (checked below)
    out: dict[str, np.ndarray] = {}
    for name, kind in kinds.items():
        pieces = []
        for part in parts:
            piece = part.get(name)
            if piece is None:
                n = len(next(iter(part.values()))) if part else 0
                piece = np.full(n, np.nan) if kind == np.float64 else np.full(n, None, dtype=object)
            elif piece.dtype != kind:
                if piece.dtype != object or not np.equal(piece, None).all():  # type: ignore[call-overload]
                    return None  # numbers here, text there: the per-message path types it
                piece = np.full(piece.size, np.nan)
            pieces.append(piece)
        out[name] = np.concatenate(pieces)
    return out


def _columnar_batches(values: Sequence[bytes]) -> tuple[dict[str, np.ndarray], list[int]] | None:
    """Columnar messages, all with the same columns in the same order: the arrays concatenated.

    The fallback for columnar messages pyarrow declines."""
    names: list[str] | None = None
    lists: dict[str, list[Any]] = {}
    sizes: list[int] = []
    for value in values:
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if type(obj) is not dict or not obj:
            return None
        if names is None:
            names = list(obj)
            lists = {name: [] for name in names}
        elif list(obj) != names:
            return None
        size = -1
        for name, column in obj.items():
            if type(column) is not list or (size >= 0 and len(column) != size):
                return None
            size = len(column)
            lists[name].extend(column)
        sizes.append(size)
    if names is None or not sum(sizes):
        return None
    out: dict[str, np.ndarray] = {}
    for name in names:
        array = values_to_array(lists[name])
        if array is None:
            return None
        out[name] = array
    return out, sizes


def values_to_array(values: Sequence[Any]) -> np.ndarray | None:
    """One column of decoded JSON scalars as :func:`connectors.files.rows_to_columns` types it.

    Numbers (``None`` as ``nan``) become ``float64`` unless every value is ``None``; anything
    else (strings, booleans, a mix) an ``object`` array. ``None`` for nested values.

    Examples
    --------
    >>> values_to_array([1, None, 2.5]).tolist()
    [1.0, nan, 2.5]
    >>> values_to_array(["a", 1, None]).tolist()
    ['a', 1, None]
    >>> values_to_array([{"a": 1}]) is None
    True
    """
    kinds = set(map(type, values))
    if dict in kinds or list in kinds:
        return None
    if kinds <= _NUMBER_TYPES and kinds != {type(None)}:
        try:
            return np.array(values, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _read_wrapped(values: Sequence[bytes], hint: SchemaHint | None) -> pa.Array | None:
    """Each message ``m`` read as ``{"r": m}``: one value per message, none of them null, or ``None``.

    The wrapper makes anything but a single JSON value per message a parse error (two objects,
    an empty message), and a ``null`` message a null the caller can see.
    """
    blob = _WRAP_KEY + (b"}\n" + _WRAP_KEY).join(values) + b"}"
    table = _read(blob, len(values), hint)
    if table is None or table.num_columns != 1 or table.column_names[0] != "r":
        return None
    wrapped = table.column(0).combine_chunks()
    # pyarrow 26's reader can build invalid arrays (a list in an object starting with null has
    # bad offsets); full validation catches that, and checks the UTF-8 of every string.
    wrapped.validate(full=True)
    return None if wrapped.null_count else wrapped


def _read(blob: bytes, lines: int, hint: SchemaHint | None) -> pa.Table | None:
    """The JSON-lines document as a table of exactly ``lines`` rows, or ``None``."""
    options = pj.ReadOptions(use_threads=False, block_size=max(len(blob) + 1, 1 << 20))
    table = _read_hinted(blob, options, hint.schema) if hint is not None and hint.schema is not None else None
    if table is None:
        table = pj.read_json(io.BytesIO(blob), read_options=options)
    as_text = _times_as_text(table.schema)
    if as_text != table.schema:  # the reader took ISO strings for times: read them as text
        parse = pj.ParseOptions(explicit_schema=as_text)
        table = pj.read_json(io.BytesIO(blob), read_options=options, parse_options=parse)
    if table.num_rows != lines:  # an empty message, or several objects in one
        return None
    if hint is not None:
        hint.schema = _hint_schema(table.schema)
    return table


def _read_hinted(blob: bytes, options: pj.ReadOptions, schema: pa.Schema) -> pa.Table | None:
    """``blob`` read with the hinted types, or ``None`` where inference could read it otherwise.

    A value of another type is a parse error. A hinted field absent or null throughout comes out
    as nulls of its hinted type, where inference would give no field or a null-typed one.
    """
    try:
        table = pj.read_json(
            io.BytesIO(blob), read_options=options, parse_options=pj.ParseOptions(explicit_schema=schema)
        )
    except pa.ArrowException:
        return None
    if any(_only_nulls(column.combine_chunks()) for column in table.columns):
        return None
    return table


def _only_nulls(array: pa.Array) -> bool:
    """Whether ``array`` or any field or list item array inside it is typed but all null."""
    kind = array.type
    if len(array) and array.null_count == len(array) and not pa.types.is_null(kind):
        return True
    if pa.types.is_struct(kind):
        return any(_only_nulls(child) for child in array.flatten())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _only_nulls(array.flatten())
    return False


def _hint_schema(schema: pa.Schema) -> pa.Schema | None:
    """The types to read the next poll with: integers as float (every number becomes float64
    here anyway, so a 2.5 after integers still reads), null-typed fields left to inference."""
    fields = [f.with_type(t) for f in schema if (t := _hint_type(f.type)) is not None]
    return pa.schema(fields) if fields else None


def _hint_type(kind: pa.DataType) -> pa.DataType | None:
    if pa.types.is_null(kind):
        return None
    if pa.types.is_integer(kind):
        return pa.float64()
    if pa.types.is_list(kind):
        item = _hint_type(kind.value_type)
        return None if item is None else pa.list_(kind.value_field.with_type(item))
    if pa.types.is_struct(kind):
        children = [
            f.with_type(t)
            for f in (kind.field(i) for i in range(kind.num_fields))
            if (t := _hint_type(f.type)) is not None
        ]
        return pa.struct(children) if children else None
    return kind


def _times_as_text(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every timestamp or date type (at any depth) replaced by ``string``."""
    return pa.schema([f.with_type(_text_type(f.type)) for f in schema])


def _text_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pa.string()
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_text_type(kind.value_type)))
    if pa.types.is_struct(kind):
        return pa.struct(
            [kind.field(i).with_type(_text_type(kind.field(i).type)) for i in range(kind.num_fields)]
        )
    return kind


def _table_columns(
    arrays: Sequence[pa.Array | pa.ChunkedArray], names: Sequence[str]
) -> dict[str, np.ndarray] | None:
    if not names or len(set(names)) != len(names):
        return None
    out: dict[str, np.ndarray] = {}
    for name, array in zip(names, arrays, strict=True):
        converted = _to_numpy(array)
        if converted is None:
            return None
        out[name] = converted
    return out


def _to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    kind = array.type
    n = len(array)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = _numpy(array).astype(np.float64, copy=False)
        if pa.types.is_floating(kind) and not np.isfinite(values).all():
            # pyarrow reads the literals NaN and Infinity, which are not JSON: only nulls may be nan
            if np.isinf(values).any() or int(np.isnan(values).sum()) != array.null_count:
                return None
        return values
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind):
        return _numpy(array).astype(object, copy=False)
    if pa.types.is_null(kind):
        return np.full(n, None, dtype=object)
    return None  # timestamps (pyarrow reads ISO strings as times), lists, objects: per-message path


def _numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return array.to_numpy() if isinstance(array, pa.ChunkedArray) else array.to_numpy(zero_copy_only=False)
