"""Server-wide settings that must outlive a process."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from fnflow.store.queries.base import Queries, dialect_insert
from fnflow.store.schema import settings


class SettingQueries(Queries):
    def get_setting(self, key: str) -> str | None:
        return self.conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()

    def setting_or_create(self, key: str, make: Callable[[], str]) -> str:
        """The stored value, or ``make()`` stored now (first start). Processes starting at once
        agree on one value: the first insert wins, the others read it."""
        value = self.get_setting(key)
        if value is not None:
            return value
        insert = dialect_insert(self.conn.dialect.name, settings).values(key=key, value=make())
        self.conn.execute(insert.on_conflict_do_nothing())
        stored = self.get_setting(key)
        assert stored is not None
        return stored

    def set_setting(self, key: str, value: str) -> None:
        insert = dialect_insert(self.conn.dialect.name, settings).values(key=key, value=value)
        self.conn.execute(
            insert.on_conflict_do_update(index_elements=[settings.c.key], set_={"value": value})
        )
