"""Fast bulk inserts for generated data (lessons of a year, the demo school).

Peewee's ``insert_many`` builds an expression tree per value: about 100 µs a row,
which makes a school year of lessons and marks take many seconds on a Raspberry Pi.
`insert_rows` fills the same model defaults and converts values with the same
``db_value`` as peewee, then hands plain tuples to sqlite3's ``executemany``.
Call it inside a write transaction; it runs no audit of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from peewee import fn

from .models import BaseModel, database


def next_id(model: type[BaseModel]) -> int:
    """The first free primary key of ``model`` (for rows that need their ids up front)."""
    pk = model._meta.primary_key
    return (model.select(fn.MAX(pk)).scalar() or 0) + 1


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(model: type[BaseModel], rows: Iterable[dict[str, Any]], chunk: int = 500) -> int:
    """Insert ``rows`` (field name → value) into ``model``'s table; return how many.

    Missing fields get the model default (callables are called per row). The
    primary key is written only when the rows carry it.
    """
    count = 0
    for batch in _chunks(rows, chunk):
        pk = model._meta.primary_key
        fields = [f for f in model._meta.sorted_fields if not (f is pk and pk.name not in batch[0])]
        columns = ", ".join(f'"{f.column_name}"' for f in fields)
        marks = ", ".join("?" for _ in fields)
        sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
        params = []
        for row in batch:
            values = []
            for f in fields:
                if f.name in row:
                    value = row[f.name]
                elif f.default is not None:
                    value = f.default() if callable(f.default) else f.default
                else:
                    value = None
                values.append(f.db_value(value))
            params.append(values)
        database.cursor().executemany(sql, params)
        count += len(batch)
    return count
