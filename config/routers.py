"""Database routing: report reads to the read replica (see core/replica.py), everything else, and every
write and migration, to the primary."""

from typing import Any

from core.replica import REPLICA, reader_alias


class ReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        alias = reader_alias()
        return alias if alias == REPLICA else None

    def db_for_write(self, model: type, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the primary's rows: objects from either relate

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # the replica gets its schema by replication
