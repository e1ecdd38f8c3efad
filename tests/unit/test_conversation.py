"""The conversation flows without Qt: the real starter model on a real engine worker, a real
SQLite file on a real store worker, and the test's own thread pumping what they report."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tokenwise.core.chat.conversation import (
    NEW_TITLE,
    TITLE_LENGTH,
    ConversationFlow,
    conversation_title,
    settings_of,
)
from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.chat.listener import ChatListener
from tokenwise.core.chat.store import ChatStore, Conversation, Message
from tokenwise.core.interface import ChatEngine, ModelInfo
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.settings import AppSettings
from tokenwise.core.tasks import Mailbox, SerialWorker
from tokenwise.core.trace.records import STOP_CANCELLED, Step

TIMEOUT_S = 120.0
GREEDY = PRESETS["Greedy"].with_(max_tokens=24)


class Recorder(ChatListener):
    """Keeps what the flow reports."""

    def __init__(self) -> None:
        self.busy: list[bool] = []
        self.finished: list[Message] = []
        self.failed: list[tuple[Message, str]] = []
        self.saved: list[tuple[int, int]] = []
        self.arrived: list[Step] = []
        self.waiting = 0
        self.errors: list[str] = []
        self.listed: list[list[Conversation]] = []
        self.loaded: list[int] = []
        self.traces: list[dict[int, list[Step]]] = []
        self.inspected: list[int | None] = []
        self.paths: list[tuple[list[Message], bool]] = []
        self.info: ModelInfo | None = None

    def on_busy_changed(self, busy: bool) -> None:
        self.busy.append(busy)

    def on_model_loaded(self, info: ModelInfo) -> None:
        self.info = info

    def on_reply_finished(self, message: Message, in_view: bool) -> None:
        self.finished.append(message)

    def on_reply_failed(self, message: Message, error: str) -> None:
        self.failed.append((message, error))

    def on_reply_saved(self, message_id: int, steps: int) -> None:
        self.saved.append((message_id, steps))

    def on_steps_arrived(self, steps: list[Step]) -> None:
        self.arrived.extend(steps)

    def on_step_waiting(self) -> None:
        self.waiting += 1

    def on_error(self, message: str) -> None:
        self.errors.append(message)

    def on_conversations_listed(self, items: list[Conversation], current: int | None) -> None:
        self.listed.append(items)

    def on_conversation_loaded(self, conversation: Conversation, path: list[Message]) -> None:
        self.loaded.append(conversation.id)

    def on_path_changed(self, path: list[Message], versions_switched: bool) -> None:
        self.paths.append((path, versions_switched))

    def on_traces_loaded(self, traces: dict[int, list[Step]]) -> None:
        self.traces.append(traces)

    def on_inspection_changed(self, message_id: int | None, steps: list[Step],
                              settings: SamplerSettings) -> None:
        self.inspected.append(message_id)


def engine_without_preflight(path: str, **options: Any) -> ChatEngine:
    from tokenwise.core.engine.local import Engine

    return Engine(path, preflight=False, **options)


@dataclass
class Chat:
    flow: ConversationFlow
    seen: Recorder
    mailbox: Mailbox
    database: Path
    readers: list[ChatStore] = field(default_factory=list)

    def wait(self, condition: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        assert self.mailbox.run_until(condition, timeout), "timed out"

    def reply_to(self, text: str) -> Message:
        """Send ``text`` and wait for the reply to finish."""
        before = len(self.seen.finished)
        self.flow.send(text)
        self.wait(lambda: len(self.seen.finished) > before)
        return self.seen.finished[-1]

    def stored(self) -> ChatStore:
        """The database as written so far (every queued write done)."""
        assert self.flow.store.flush(10)
        self.mailbox.deliver_pending()
        store = ChatStore(self.database)
        self.readers.append(store)
        return store


@pytest.fixture
def chat(tmp_path: Path, starter_model_path: Path) -> Iterator[Chat]:
    mailbox = Mailbox()
    database = tmp_path / "chat.db"
    store = SerialWorker("test-db", mailbox, lambda: ChatStore(database), ChatStore.close)
    engine = SerialWorker("test-engine", mailbox, lambda: EngineSlot(engine_without_preflight),
                          EngineSlot.close)
    settings = AppSettings(n_ctx=1024, sampler=GREEDY)
    seen = Recorder()
    flow = ConversationFlow(store=store, engine=engine, settings=settings, listener=seen)
    flow.load_model(str(starter_model_path))
    chat = Chat(flow, seen, mailbox, database)
    chat.wait(lambda: flow.model_info is not None)
    yield chat
    assert engine.shutdown(10) and store.shutdown(10, run_queued=True)
    for reader in chat.readers:
        reader.close()


# ----- rules that need no model


def test_a_conversation_is_named_after_its_first_message() -> None:
    assert conversation_title("  Why   one\ntoken at a time? ") == "Why one token at a time?"
    assert len(conversation_title("word " * 40)) == TITLE_LENGTH
    assert conversation_title(" \n ") == NEW_TITLE


def test_a_reply_is_inspected_with_the_settings_it_was_drawn_with() -> None:
    current = PRESETS["Greedy"]
    stored = PRESETS["Creative"] if "Creative" in PRESETS else current.with_(temperature=1.3)
    message = Message(1, 1, None, "assistant", "", 0.0, settings=stored.to_dict())
    assert settings_of(message, current) == stored
    assert settings_of(Message(2, 1, None, "assistant", "", 0.0), current) == current
    assert settings_of(None, current) == current


# ----- the flows, with the real model and a real database


def test_the_model_loads_on_the_engine_worker(chat: Chat, starter_model_path: Path) -> None:
    assert chat.seen.info is not None and chat.seen.info.path == str(starter_model_path)
    assert chat.flow.n_ctx == 1024


def test_send_streams_a_reply_and_stores_it_with_its_trace(chat: Chat) -> None:
    reply = chat.reply_to("Name three colours.")
    flow = chat.flow
    steps = flow.traces[reply.id]
    assert steps and reply.content == "".join(s.text for s in steps)
    assert [s.index for s in steps] == list(range(len(steps)))
    assert [s.token_id for s in chat.seen.arrived] == [s.token_id for s in steps]
    assert [m.role for m in flow.path] == ["user", "assistant"]
    assert flow.path[-1] == reply and reply.complete and reply.n_tokens == len(steps)
    assert chat.seen.busy[0] is True and chat.seen.busy[-1] is False
    assert flow.reply is None and not flow.busy
    store = chat.stored()
    assert store.get_message(reply.id).content == reply.content
    assert [s.token_id for s in store.load_trace(reply.id)] == [s.token_id for s in steps]
    (conversation,) = store.list_conversations()
    assert conversation.title == "Name three colours."
    assert chat.seen.listed and [c.id for c in chat.seen.listed[-1]] == [conversation.id]


def test_a_second_send_while_busy_is_ignored(chat: Chat) -> None:
    chat.flow.send("First question.")
    chat.flow.send("Second question, too soon.")
    chat.wait(lambda: bool(chat.seen.finished))
    assert [m.content for m in chat.flow.path if m.role == "user"] == ["First question."]


def test_stop_keeps_what_was_written_as_cancelled(chat: Chat) -> None:
    flow = chat.flow
    flow.settings.sampler = GREEDY.with_(max_tokens=400)
    flow.send("Tell me a long story about a lighthouse keeper.")
    chat.wait(lambda: flow.reply is not None and len(flow.reply.steps) >= 5)
    flow.stop()
    chat.wait(lambda: bool(chat.seen.finished))
    reply = chat.seen.finished[-1]
    assert reply.stop_reason == STOP_CANCELLED and 5 <= reply.n_tokens < 400
    stored = chat.stored().get_message(reply.id)
    assert stored.stop_reason == STOP_CANCELLED and stored.content == reply.content


def test_a_streaming_reply_is_saved_as_it_goes(chat: Chat) -> None:
    ticks = itertools.count()
    chat.flow.writer.clock = lambda: next(ticks) * 0.3  # each look at the clock: 0.3 s later
    reply = chat.reply_to("Count from one to twenty.")
    chat.wait(lambda: (reply.id, reply.n_tokens) in chat.seen.saved)  # the final save
    saves = [steps for mid, steps in chat.seen.saved if mid == reply.id]
    assert len(saves) >= 3, "the reply was saved only at its end"
    assert saves == sorted(saves) and saves[-1] == reply.n_tokens
    assert len(chat.stored().load_trace(reply.id)) == reply.n_tokens


def test_regenerate_adds_a_version_and_switching_shows_the_old_one(chat: Chat) -> None:
    flow = chat.flow
    first = chat.reply_to("Say a greeting.")
    flow.regenerate_last()
    chat.wait(lambda: len(chat.seen.finished) == 2)
    second = chat.seen.finished[-1]
    assert second.id != first.id and flow.path[-1].id == second.id
    assert [v.id for v in chat.stored().versions(second.id)] == [first.id, second.id]
    flow.switch_version(second.id, -1)
    chat.wait(lambda: any(switched for _path, switched in chat.seen.paths))
    assert flow.path[-1].id == first.id and flow.path[-1].version_index == 0
    assert flow.path[-1].version_count == 2


def test_edit_and_resend_adds_a_user_version(chat: Chat) -> None:
    flow = chat.flow
    chat.reply_to("What is two plus two?")
    flow.edit_and_resend(flow.path[0].id, "What is three plus three?")
    chat.wait(lambda: len(chat.seen.finished) == 2)
    assert [m.content for m in flow.path if m.role == "user"] == ["What is three plus three?"]
    versions = chat.stored().versions(flow.path[0].id)
    assert [v.content for v in versions] == ["What is two plus two?", "What is three plus three?"]


def test_branch_keeps_the_prefix_and_draws_the_chosen_token(chat: Chat) -> None:
    flow = chat.flow
    old_reply = chat.reply_to("Name three animals.")
    old = flow.traces[old_reply.id]
    assert flow.inspected == old_reply.id and len(old) > 3
    at = 2
    other = next(c.token_id for c in old[at].candidates if c.token_id != old[at].token_id)
    flow.branch(at, other)
    chat.wait(lambda: len(chat.seen.finished) == 2)
    new = flow.traces[chat.seen.finished[-1].id]
    assert [s.token_id for s in new[:at]] == [s.token_id for s in old[:at]]
    assert new[at].token_id == other and new[at].forced
    assert [s.index for s in new] == list(range(len(new)))
    stored = chat.stored()
    assert [s.token_id for s in stored.load_trace(chat.seen.finished[-1].id)] == [
        s.token_id for s in new]


def test_step_mode_draws_one_token_per_step(chat: Chat) -> None:
    flow = chat.flow
    flow.set_step_mode(True)
    flow.send("Count to five.")
    chat.wait(lambda: chat.seen.waiting == 1)
    for n in (1, 2, 3):
        flow.step_once()
        chat.wait(lambda n=n: chat.seen.waiting == n + 1)
        assert flow.reply is not None and len(flow.reply.steps) == n
    flow.run_to_end()
    chat.wait(lambda: bool(chat.seen.finished))
    assert chat.seen.finished[-1].n_tokens > 3


def test_reopening_a_conversation_loads_its_path_and_traces(chat: Chat) -> None:
    flow = chat.flow
    reply = chat.reply_to("Name a fruit.")
    conv_id = flow.conversation.id if flow.conversation else -1
    flow.new_conversation()
    assert flow.path == [] and flow.conversation is None and chat.seen.inspected[-1] is None
    streamed = [s.token_id for s in flow.traces.pop(reply.id)]
    flow.open_conversation(conv_id)
    chat.wait(lambda: chat.seen.loaded == [conv_id])
    assert [m.id for m in flow.path][-1] == reply.id
    flow.load_traces([reply.id])
    chat.wait(lambda: bool(chat.seen.traces))
    assert [s.token_id for s in chat.seen.traces[-1][reply.id]] == streamed
    assert flow.inspected == reply.id


def test_closing_mid_reply_keeps_what_streamed(chat: Chat) -> None:
    flow = chat.flow
    flow.settings.sampler = GREEDY.with_(max_tokens=400)
    flow.send("Write a long poem about the sea.")
    chat.wait(lambda: flow.reply is not None and len(flow.reply.steps) >= 5)
    message_id = flow.reply.message.id if flow.reply else -1
    flow.abandon_reply()  # what the window does once the engine has stopped
    stored = chat.stored().get_message(message_id)
    assert stored.stop_reason == STOP_CANCELLED and not stored.complete
    assert stored.n_tokens >= 5


def test_a_failed_write_is_reported_and_frees_the_composer(tmp_path: Path) -> None:
    mailbox = Mailbox()

    def no_database() -> ChatStore:
        raise OSError("disk gone")

    store = SerialWorker("test-db", mailbox, no_database)
    engine = SerialWorker("test-engine", mailbox, lambda: EngineSlot(engine_without_preflight),
                          EngineSlot.close)
    seen = Recorder()
    flow = ConversationFlow(store=store, engine=engine, settings=AppSettings(), listener=seen)
    flow.model_info = ModelInfo(  # as if loaded: the write fails before the engine is asked
        path="m.gguf", name="m", architecture="llama", parameters=1, quantization="Q4_1",
        file_size=1, context_length=64, n_ctx=64, vocab_size=10, layers=1,
        has_chat_template=True, backend="CPU", gpu_layers=0, gpu_offload_supported=False)
    flow.send("Hello")
    assert mailbox.run_until(lambda: bool(seen.errors), 10)
    assert "Could not save or read the chat history" in seen.errors[0]
    assert seen.busy == [True, False] and not flow.busy
    assert store.shutdown(5) and engine.shutdown(5)
