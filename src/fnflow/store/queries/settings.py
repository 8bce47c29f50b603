"""Server-wide settings that must outlive a process."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, insert, select

from fnflow.store.queries.base import Queries
from fnflow.store.schema import settings


class SettingQueries(Queries):
    def get_setting(self, key: str) -> str | None:
        return self.conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()

    def setting_or_create(self, key: str, make: Callable[[], str]) -> str:
        """The stored value, or ``make()`` stored now (first start)."""
        value = self.get_setting(key)
        if value is None:
            value = make()
            self.conn.execute(insert(settings).values(key=key, value=value))
        return value

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute(delete(settings).where(settings.c.key == key))
        self.conn.execute(insert(settings).values(key=key, value=value))
