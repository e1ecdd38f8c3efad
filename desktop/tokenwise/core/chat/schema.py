"""The chat history's tables and the migrations that build and upgrade them.

``PRAGMA user_version`` holds the schema version; ``MIGRATIONS[i]`` takes a database from
version i to i + 1, each in its own transaction, so a file from any older Tokenwise opens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class SchemaTooNewError(Exception):
    """The file was written by a newer Tokenwise: upgrading it back is not possible."""

    def __init__(self, version: int) -> None:
        super().__init__(f"schema {version}, this version reads up to {SCHEMA_VERSION}")
        self.version = version


_SCHEMA_V1 = (
    """CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        settings TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        active_root_id INTEGER
    )""",
    "CREATE INDEX conversations_by_update ON conversations(updated_at, id)",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES messages(id),
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        settings TEXT NOT NULL DEFAULT '{}',
        stop_reason TEXT,
        tokens_per_second REAL NOT NULL DEFAULT 0,
        first_token_s REAL NOT NULL DEFAULT 0,
        n_tokens INTEGER NOT NULL DEFAULT 0,
        complete INTEGER NOT NULL DEFAULT 1,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        active_child_id INTEGER
    )""",
    # covers the scan that walks the active path and numbers the versions along it
    "CREATE INDEX messages_by_conversation"
    " ON messages(conversation_id, parent_id, active_child_id)",
    # siblings (versions) of a parent; roots have parent_id NULL, hence conversation_id too
    "CREATE INDEX messages_siblings ON messages(parent_id, conversation_id, id)",
    """CREATE TABLE trace_chunks (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        first_pos INTEGER NOT NULL,
        n_steps INTEGER NOT NULL,
        last_index INTEGER NOT NULL,
        last_token_id INTEGER NOT NULL,
        blob BLOB NOT NULL,
        PRIMARY KEY (message_id, seq)
    )""",
)

# Only finished messages are indexed: a reply saved every second while it streams would
# otherwise re-index its whole text on each save. Unfinished ones are searched with LIKE.
_FTS_V2 = (
    """CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.complete BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.complete BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, complete ON messages
    WHEN old.complete OR new.complete BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.complete;
        INSERT INTO messages_fts(rowid, content) SELECT new.id, new.content WHERE new.complete;
    END""",
    "INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages WHERE complete",
)


def _migrate_v1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        conn.execute(statement)


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """Full-text search over message text (trigram: substrings, Chinese included)."""
    conn.execute("CREATE INDEX messages_unfinished ON messages(conversation_id) WHERE NOT complete")
    try:
        conn.execute("SAVEPOINT fts")
        for statement in _FTS_V2:
            conn.execute(statement)
        conn.execute("RELEASE fts")
    except sqlite3.OperationalError:  # SQLite built without FTS5 or trigram: LIKE search
        conn.execute("ROLLBACK TO fts")
        conn.execute("RELEASE fts")


#: migrations[i] brings a database from user_version i to i + 1
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_v1, _migrate_v2)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to SCHEMA_VERSION (``conn`` in autocommit mode)."""
    # the usual case needs no write lock, so opening never waits for a streaming writer
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    while True:
        conn.execute("BEGIN IMMEDIATE")  # re-read the version under the write lock
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNewError(version)
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
