"""The store: the one module that touches SQLite.

`Store` (in `bot.store.store`) owns the database file, its connection and its
transactions; `bot.store.migrations` holds the numbered schema migrations. Nothing
else in the product imports `sqlite3` or `sqlite_utils`.
"""

from bot.store.store import DatabaseBusy, Store

__all__ = ["DatabaseBusy", "Store"]
