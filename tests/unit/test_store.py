"""The chat history against a real SQLite file: tree semantics, restarts, crashes, search."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenwise.core import paths
from tokenwise.core.chat import schema as store_schema
from tokenwise.core.chat import store as store_module
from tokenwise.core.chat.schema import SCHEMA_VERSION
from tokenwise.core.chat.store import ChatStore, RecordNotFoundError, StoreError
from tokenwise.core.trace.records import STOP_EOG, Candidate, Stage, Step

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def make_steps(n: int, start: int = 0) -> list[Step]:
    """Hand-made steps with varied fields. Floats are dyadic so float32 storage is exact."""
    pieces = [
        (b"\xe5\xb7", ""),  # first two bytes of 工: a byte token adds no text yet
        (b"\xa5", "工"),
        (" 你好".encode(), " 你好"),
        (b" token", " token"),
        (b"\n", "\n"),
    ]
    steps = []
    for i in range(start, start + n):
        piece, text = pieces[i % len(pieces)]
        candidates = tuple(
            Candidate(1000 + i * 7 + k, piece if k == 0 else f"候{k}".encode(), -k / 4,
                      1 / 2 ** (k + 1))
            for k in range(1 + i % 4)
        )
        stages = () if i % 3 == 0 else (
            Stage("top_k", "top-k 40", 40, (1000 + i * 7, 5), (0.75, 0.25)),
            Stage("temperature", "temperature 0.5", 2 + i % 2, (1000 + i * 7,), (1.0,)),
        )
        steps.append(Step(
            index=i, token_id=1000 + i * 7, piece=piece, text=text, prob=1 / 2 ** (1 + i % 5),
            rank=1 + i % 3, logit=i / 8, log_z=10.25, entropy=1.5 + i % 2,
            candidates=candidates, stages=stages, final_prob=0.875, forced=i % 11 == 5,
            stop_reason=None, elapsed_ms=i * 0.5,
        ))
    return steps


def finished(steps: list[Step]) -> list[Step]:
    steps[-1].stop_reason = STOP_EOG
    return steps


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chat.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    with ChatStore(db_path) as chat_store:
        yield chat_store


def texts(messages: list[store_module.Message]) -> list[str]:
    return [m.content for m in messages]


# ------------------------------------------------------------------ opening


def test_new_file_uses_wal_foreign_keys_and_current_schema(db_path: Path) -> None:
    with ChatStore(db_path):
        raw = sqlite3.connect(db_path)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        raw.close()


def test_default_path_is_the_database_path() -> None:
    with ChatStore() as chat_store:
        chat_store.create_conversation("kept")
    assert chat_store.path == paths.database_path()
    assert paths.database_path().is_file()
    with ChatStore() as again:
        assert [c.title for c in again.list_conversations()] == ["kept"]


def test_a_file_that_is_not_a_database_gives_a_clear_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(StoreError, match="damaged or not a Tokenwise database"):
        ChatStore(db_path)


def test_a_newer_schema_is_refused_not_damaged(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer Tokenwise"):
        ChatStore(db_path)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    raw.close()


def test_a_damaged_or_foreign_file_is_kept_aside_and_a_new_history_begun(
        db_path: Path) -> None:
    from tokenwise.core.chat.store import open_or_recover

    garbage = b"this is a text file, not SQLite\n" * 100
    db_path.write_bytes(garbage)
    with open_or_recover(db_path) as store:
        kept = store.recovered_from
        assert kept is not None and kept.name.startswith("chat.db.damaged-")
        assert kept.read_bytes() == garbage  # nothing the user had is lost
        conv = store.create_conversation("after the damage")
        assert [c.id for c in store.list_conversations()] == [conv.id]
    with open_or_recover(db_path) as again:  # the new history opens as it is
        assert again.recovered_from is None
        assert [c.title for c in again.list_conversations()] == ["after the damage"]


def test_a_newer_history_is_refused_by_recovery_too(db_path: Path) -> None:
    from tokenwise.core.chat.store import open_or_recover

    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer Tokenwise"):
        open_or_recover(db_path)
    assert list(db_path.parent.glob("*.damaged-*")) == []


def test_closed_store_refuses_calls(store: ChatStore) -> None:
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()


# ------------------------------------------------------------------ conversations


def test_conversation_fields_round_trip(store: ChatStore) -> None:
    conv = store.create_conversation(
        "Tokens 101", system_prompt="Be brief.", model="smol.gguf",
        settings={"temperature": 0.5, "top_k": 20},
    )
    assert store.get_conversation(conv.id) == conv
    store.rename_conversation(conv.id, "Beam search")
    store.set_system_prompt(conv.id, "用中文回答。")
    store.set_conversation_settings(conv.id, "gemma.gguf", {"seed": 7})
    got = store.get_conversation(conv.id)
    assert (got.title, got.system_prompt, got.model, got.settings) == (
        "Beam search", "用中文回答。", "gemma.gguf", {"seed": 7}
    )
    assert got.updated_at >= conv.updated_at
    assert got.created_at == conv.created_at


def test_missing_ids_raise_lookup_errors(store: ChatStore) -> None:
    with pytest.raises(RecordNotFoundError):
        store.get_conversation(42)
    with pytest.raises(LookupError):
        store.rename_conversation(42, "x")
    with pytest.raises(RecordNotFoundError):
        store.add_message(42, None, "user", "hi")
    with pytest.raises(RecordNotFoundError):
        store.update_message(42, content="x")
    with pytest.raises(RecordNotFoundError):
        store.update_message(42)
    with pytest.raises(RecordNotFoundError):
        store.versions(42)
    with pytest.raises(RecordNotFoundError):
        store.save_trace(42, make_steps(2))


def test_list_is_newest_first_and_activity_moves_a_chat_up(store: ChatStore) -> None:
    first = store.create_conversation("first")
    second = store.create_conversation("second")
    third = store.create_conversation("third")
    assert [c.id for c in store.list_conversations()] == [third.id, second.id, first.id]
    store.add_message(first.id, None, "user", "hello again")
    assert [c.id for c in store.list_conversations()] == [first.id, third.id, second.id]
    reply = store.add_message(second.id, None, "assistant", "", complete=False)
    assert store.list_conversations()[0].id == second.id
    store.add_message(third.id, None, "user", "newer")
    store.update_message(reply.id, content="done", complete=True)
    assert store.list_conversations()[0].id == second.id


def test_failed_write_leaves_nothing_behind(store: ChatStore) -> None:
    a = store.create_conversation("a")
    b = store.create_conversation("b")
    root = store.add_message(a.id, None, "user", "in a")
    with pytest.raises(ValueError, match="not in conversation"):
        store.add_message(b.id, root.id, "assistant", "wrong tree")
    with pytest.raises(ValueError, match="role"):
        store.add_message(a.id, root.id, "system", "no such role")
    assert store.message_count(a.id) == 1
    assert store.message_count(b.id) == 0


# ------------------------------------------------------------------ the message tree


def test_regenerate_keeps_the_first_reply_as_version_one(store: ChatStore) -> None:
    conv = store.create_conversation()
    question = store.add_message(conv.id, None, "user", "Why one token at a time?")
    first = store.add_message(conv.id, question.id, "assistant", "Because...")
    assert (first.version_index, first.version_count) == (0, 1)
    second = store.add_message(conv.id, question.id, "assistant", "Each token...")
    assert (second.version_index, second.version_count) == (1, 2)

    path = store.active_path(conv.id)
    assert [m.id for m in path] == [question.id, second.id]
    assert (path[1].version_index, path[1].version_count) == (1, 2)
    versions = store.versions(first.id)
    assert [m.id for m in versions] == [first.id, second.id]
    assert [(m.version_index, m.version_count) for m in versions] == [(0, 2), (1, 2)]
    assert store.versions(second.id) == versions

    store.set_active_version(first.id)
    assert texts(store.active_path(conv.id)) == ["Why one token at a time?", "Because..."]
    assert store.message_count(conv.id) == 3


def test_edit_and_resend_branches_and_each_branch_keeps_its_own_path(store: ChatStore) -> None:
    conv = store.create_conversation()
    u1 = store.add_message(conv.id, None, "user", "u1")
    a1 = store.add_message(conv.id, u1.id, "assistant", "a1")
    u2 = store.add_message(conv.id, a1.id, "user", "u2")
    a2 = store.add_message(conv.id, u2.id, "assistant", "a2")
    store.add_message(conv.id, a2.id, "user", "u3")
    edited = store.add_message(conv.id, a1.id, "user", "u2 edited")
    assert texts(store.active_path(conv.id)) == ["u1", "a1", "u2 edited"]
    store.add_message(conv.id, edited.id, "assistant", "a2 for the edit")
    assert texts(store.active_path(conv.id)) == ["u1", "a1", "u2 edited", "a2 for the edit"]

    store.set_active_version(u2.id)  # back to the original: its whole tail comes back
    assert texts(store.active_path(conv.id)) == ["u1", "a1", "u2", "a2", "u3"]
    store.add_message(conv.id, u2.id, "assistant", "a2 regenerated")  # newer than the edit
    path = store.active_path(conv.id)
    assert texts(path) == ["u1", "a1", "u2", "a2 regenerated"]
    assert [(m.version_index, m.version_count) for m in path] == [(0, 1), (0, 1), (0, 2), (1, 2)]
    store.set_active_version(a2.id)
    store.set_active_version(edited.id)
    assert texts(store.active_path(conv.id)) == ["u1", "a1", "u2 edited", "a2 for the edit"]
    assert [m.content for m in store.versions(u2.id)] == ["u2", "u2 edited"]


def test_editing_the_first_message_adds_a_root_version(store: ChatStore) -> None:
    conv = store.create_conversation()
    other = store.create_conversation()
    store.add_message(other.id, None, "user", "another chat's root")
    root = store.add_message(conv.id, None, "user", "first")
    store.add_message(conv.id, root.id, "assistant", "reply")
    new_root = store.add_message(conv.id, None, "user", "first, edited")
    assert (new_root.version_index, new_root.version_count) == (1, 2)
    assert texts(store.active_path(conv.id)) == ["first, edited"]
    assert texts(store.versions(root.id)) == ["first", "first, edited"]
    store.set_active_version(root.id)
    assert texts(store.active_path(conv.id)) == ["first", "reply"]
    assert store.active_path(store.create_conversation().id) == []


def test_update_message_changes_only_given_fields(store: ChatStore) -> None:
    conv = store.create_conversation()
    q = store.add_message(conv.id, None, "user", "q")
    reply = store.add_message(conv.id, q.id, "assistant", "", model="smol.gguf",
                              settings={"temperature": 0.0}, complete=False)
    store.update_message(reply.id, content="Hel")
    store.update_message(reply.id, content="Hello", complete=True, stop_reason=STOP_EOG,
                         tokens_per_second=93.5, first_token_s=0.25, n_tokens=2)
    got = store.get_message(reply.id)
    assert (got.content, got.complete, got.stop_reason, got.tokens_per_second,
            got.first_token_s, got.n_tokens, got.model, got.settings) == (
        "Hello", True, STOP_EOG, 93.5, 0.25, 2, "smol.gguf", {"temperature": 0.0}
    )
    store.update_message(reply.id, n_tokens=3)
    assert store.get_message(reply.id).content == "Hello"


# ------------------------------------------------------------------ traces


def test_trace_saved_while_streaming_writes_only_new_steps(
    store: ChatStore, db_path: Path
) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, None, "assistant", "", complete=False)
    steps = finished(make_steps(23))
    for end in (5, 5, 12, 23):  # the whole trace so far, once a second; one save repeats
        store.save_trace(reply.id, steps[:end], prompt_tokens=17 if end == 5 else 0)
    assert store.load_trace(reply.id) == steps
    assert store.get_message(reply.id).prompt_tokens == 17

    raw = sqlite3.connect(db_path)
    chunks = raw.execute(
        "SELECT first_pos, n_steps FROM trace_chunks WHERE message_id = ? ORDER BY seq",
        (reply.id,),
    ).fetchall()
    raw.close()
    assert chunks == [(0, 5), (5, 7), (12, 11)]  # each save stored only its new steps


def test_trace_accepts_only_the_new_steps_too(store: ChatStore) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, None, "assistant", "")
    steps = make_steps(10)
    store.save_trace(reply.id, steps[:4])
    store.save_trace(reply.id, steps[4:9])
    store.save_trace(reply.id, steps[9:])
    store.save_trace(reply.id, [])
    assert store.load_trace(reply.id) == steps


def test_stored_steps_are_dropped_only_on_request(store: ChatStore) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, None, "assistant", "")
    first = make_steps(8)
    store.save_trace(reply.id, first)
    other = make_steps(3, start=40)  # neither a continuation nor the stored trace again
    store.save_trace(reply.id, other)
    assert store.load_trace(reply.id) == first + other
    store.save_trace(reply.id, other, replace=True)
    assert store.load_trace(reply.id) == other
    store.save_trace(reply.id, [], replace=True)
    assert store.load_trace(reply.id) == []
    assert store.load_trace(store.add_message(conv.id, None, "user", "x").id) == []


# ------------------------------------------------------------------ restarts and crashes


def test_reopening_keeps_everything(db_path: Path) -> None:
    steps = finished(make_steps(30))
    with ChatStore(db_path) as chat_store:
        conv = chat_store.create_conversation("中文 chat", "sys", "m.gguf", {"top_p": 0.5})
        q = chat_store.add_message(conv.id, None, "user", "工作是什么？")
        a1 = chat_store.add_message(conv.id, q.id, "assistant", "v1", model="m.gguf")
        a2 = chat_store.add_message(conv.id, q.id, "assistant", "v2", settings={"seed": 3})
        chat_store.save_trace(a1.id, steps[:10], prompt_tokens=9)
        chat_store.save_trace(a1.id, steps)
        chat_store.update_message(a1.id, stop_reason=STOP_EOG, n_tokens=30)
        chat_store.set_active_version(a1.id)
        before = (chat_store.list_conversations(), chat_store.active_path(conv.id),
                  chat_store.versions(a2.id))
    with ChatStore(db_path) as reopened:
        after = (reopened.list_conversations(), reopened.active_path(conv.id),
                 reopened.versions(a2.id))
        assert after == before
        assert [m.id for m in after[1]] == [q.id, a1.id]
        assert reopened.load_trace(a1.id) == steps
        assert reopened.get_message(a1.id).prompt_tokens == 9


def test_a_reply_cut_off_by_a_crash_loads_as_incomplete(db_path: Path) -> None:
    """Another process streams a reply and dies without closing anything."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(DESKTOP)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from tokenwise.core.chat.store import ChatStore
        from test_store import make_steps
        store = ChatStore(Path({str(db_path)!r}))
        conv = store.create_conversation("crash")
        q = store.add_message(conv.id, None, "user", "tell me")
        reply = store.add_message(conv.id, q.id, "assistant", "", complete=False)
        steps = make_steps(12)
        store.update_message(reply.id, content="工 part", n_tokens=6)
        store.save_trace(reply.id, steps[:6])
        store.update_message(reply.id, content="工 part two", n_tokens=12)
        store.save_trace(reply.id, steps)
        print(conv.id, reply.id, flush=True)
        os._exit(0)  # no close, no checkpoint: what a crash leaves
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    conv_id, reply_id = map(int, result.stdout.split())
    assert Path(str(db_path) + "-wal").exists()  # the writes live in the WAL only
    with ChatStore(db_path) as reopened:
        path = reopened.active_path(conv_id)
        assert [m.id for m in path][-1] == reply_id
        assert (path[-1].complete, path[-1].content, path[-1].n_tokens) == (
            False, "工 part two", 12
        )
        assert reopened.load_trace(reply_id) == make_steps(12)
        assert path[0].complete is True


def test_a_second_connection_reads_while_a_write_is_open(store: ChatStore, db_path: Path) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, None, "assistant", "saved", complete=False)
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE messages SET content = 'not committed' WHERE id = ?", (reply.id,))
    with ChatStore(db_path) as reader:  # opening and reading do not wait for the writer
        assert reader.get_message(reply.id).content == "saved"
        assert texts(reader.active_path(conv.id)) == ["saved"]
    writer.execute("COMMIT")
    writer.close()
    assert store.get_message(reply.id).content == "not committed"


def test_reader_sees_a_growing_reply_while_another_thread_streams(
    store: ChatStore, db_path: Path
) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, None, "assistant", "", complete=False)
    pieces = [f"词{i} " for i in range(300)]
    done = threading.Event()
    errors: list[BaseException] = []

    def stream() -> None:  # the DB worker: the store was made on another thread
        try:
            text = ""
            for piece in pieces:
                text += piece
                store.update_message(reply.id, content=text)
            store.update_message(reply.id, complete=True)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    seen: list[str] = []
    with ChatStore(db_path) as reader:
        worker = threading.Thread(target=stream)
        worker.start()
        while not done.is_set():
            seen.append(reader.get_message(reply.id).content)
        worker.join()
        final = reader.get_message(reply.id)
    assert not errors
    assert final.complete
    assert final.content == "".join(pieces)
    assert all(final.content.startswith(text) for text in seen)
    assert [len(t) for t in seen] == sorted(len(t) for t in seen)


def test_one_store_shared_by_threads_serialises_their_calls(store: ChatStore) -> None:
    convs = [store.create_conversation(f"thread {i}") for i in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(conv_id: int) -> None:
        try:
            start.wait()
            parent = None
            for i in range(150):
                parent = store.add_message(conv_id, parent, "user", f"{conv_id}-{i}").id
                store.update_message(parent, n_tokens=i)
                store.active_path(conv_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c.id,)) for c in convs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for conv in convs:
        path = store.active_path(conv.id)
        assert texts(path) == [f"{conv.id}-{i}" for i in range(150)]
        assert [m.n_tokens for m in path] == list(range(150))


# ------------------------------------------------------------------ search and delete


@pytest.fixture(params=["fts", "like"])
def searchable(
    request: pytest.FixtureRequest, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ChatStore]:
    """A store with FTS5, and one where FTS5 could not be created (LIKE fallback)."""
    if request.param == "like":
        monkeypatch.setattr(store_schema, "_FTS_V2", (
            "CREATE VIRTUAL TABLE messages_fts USING fts5(content, tokenize='no_such')",
        ))
    with ChatStore(db_path) as chat_store:
        assert chat_store.full_text_search is (request.param == "fts")
        yield chat_store


def test_search_matches_titles_and_message_text(searchable: ChatStore) -> None:
    s = searchable
    beams = s.create_conversation("Beam search")
    chinese = s.create_conversation("Untitled")
    q = s.add_message(chinese.id, None, "user", "请解释一下工作原理")
    s.add_message(chinese.id, q.id, "assistant", "Top-P keeps 90% of the MASS.")
    streaming = s.create_conversation("live")
    live = s.add_message(streaming.id, None, "assistant", "still writing about kv-cache",
                         complete=False)

    def found(query: str) -> list[int]:
        return [c.id for c in s.list_conversations(query)]

    assert found("beam") == [beams.id]
    assert found("工作原") == [chinese.id]  # trigram: a substring of Chinese text
    assert found("工作") == [chinese.id]  # two characters: too short for trigrams
    assert found("top-p keeps") == [chinese.id]  # case-insensitive
    assert found("90%") == [chinese.id]
    assert found("9_%") == []  # LIKE wildcards are literal
    assert found('"mass') == []
    assert found("kv-cache") == [streaming.id]  # an unfinished reply is found too
    s.update_message(live.id, content="finished: about attention", complete=True)
    assert found("kv-cache") == []
    assert found("attention") == [streaming.id]
    assert found("nothing like this") == []
    assert len(found("  ")) == 3


def test_delete_cascades_to_messages_traces_and_search(store: ChatStore, db_path: Path) -> None:
    keep = store.create_conversation("keep")
    store.add_message(keep.id, None, "user", "shared words here")
    gone = store.create_conversation("gone")
    parent = None
    for i in range(1200):  # a deep chain: deleting must not recurse message by message
        parent = store.add_message(gone.id, parent, "user" if i % 2 == 0 else "assistant",
                                   f"shared words {i}").id
    assert parent is not None
    store.save_trace(parent, make_steps(5))
    store.delete_conversation(gone.id)

    assert [c.id for c in store.list_conversations("shared words")] == [keep.id]
    with pytest.raises(RecordNotFoundError):
        store.get_conversation(gone.id)
    assert store.message_count(gone.id) == 0
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
    assert raw.execute("SELECT COUNT(*) FROM trace_chunks").fetchone()[0] == 0
    raw.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    raw.close()


# ------------------------------------------------------------------ migration

V1_SCHEMA = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, system_prompt TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '', settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, active_root_id INTEGER);
CREATE INDEX conversations_by_update ON conversations(updated_at, id);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES messages(id),
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    model TEXT NOT NULL DEFAULT '', settings TEXT NOT NULL DEFAULT '{}', stop_reason TEXT,
    tokens_per_second REAL NOT NULL DEFAULT 0, first_token_s REAL NOT NULL DEFAULT 0,
    n_tokens INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 1,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, active_child_id INTEGER);
CREATE INDEX messages_by_conversation
    ON messages(conversation_id, parent_id, active_child_id);
CREATE INDEX messages_siblings ON messages(parent_id, conversation_id, id);
CREATE TABLE trace_chunks (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, first_pos INTEGER NOT NULL, n_steps INTEGER NOT NULL,
    last_index INTEGER NOT NULL, last_token_id INTEGER NOT NULL, blob BLOB NOT NULL,
    PRIMARY KEY (message_id, seq));
INSERT INTO conversations VALUES (1, 'Old chat', 'sys', 'old.gguf', '{"top_k": 5}', 10, 20, 1);
INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, active_child_id)
    VALUES (1, 1, NULL, 'user', 'What is a byte token?', 11, 3);
INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at)
    VALUES (2, 1, 1, 'assistant', 'An older answer about UTF-8', 12);
INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, complete)
    VALUES (3, 1, 1, 'assistant', 'A part of one character', 13, 0);
PRAGMA user_version = 1;
"""


def test_a_version_one_file_is_migrated(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.executescript(V1_SCHEMA)
    raw.close()
    with ChatStore(db_path) as migrated:
        conv = migrated.get_conversation(1)
        assert (conv.title, conv.settings, conv.updated_at) == ("Old chat", {"top_k": 5}, 20)
        path = migrated.active_path(1)
        assert [(m.id, m.complete, m.version_index) for m in path] == [(1, True, 0), (3, False, 1)]
        assert [c.id for c in migrated.list_conversations("UTF-8")] == [1]  # indexed now
        assert [c.id for c in migrated.list_conversations("one character")] == [1]
        reply = migrated.add_message(1, 3, "user", "a new question after the upgrade")
        assert migrated.active_path(1)[-1].id == reply.id
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_a_full_disk_gives_a_message_and_loses_nothing_saved(store: ChatStore) -> None:
    from tokenwise.core.chat.store import StoreFullError

    conv = store.create_conversation("kept")
    first = store.add_message(conv.id, None, "user", "saved before the disk filled")
    conn = store._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own way to fill a disk
    with pytest.raises(StoreFullError, match="disk holding the chat history is full"):
        store.add_message(conv.id, first.id, "assistant", "x" * 200_000)
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert [m.content for m in store.active_path(conv.id)] == [
        "saved before the disk filled"]
    later = store.add_message(conv.id, first.id, "assistant", "room again")
    assert [m.content for m in store.active_path(conv.id)][-1] == later.content
