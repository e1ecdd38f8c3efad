"""What the conversation flows report, for a window (or a test) to show."""

from __future__ import annotations

from tokenwise.core.chat.store import Conversation, Message
from tokenwise.core.i18n import N_
from tokenwise.core.interface import ModelInfo, Token
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.records import Step

STORE_ERROR = N_("Could not save or read the chat history: {}")


def error_text(error: Exception) -> str:
    return str(error) or type(error).__name__


class ChatListener:
    """Every method does nothing here: a listener overrides what it shows.

    The flows call these on their own thread, in the order things happened.
    """

    def on_busy_changed(self, busy: bool) -> None:
        """A reply is being prepared or written (True), or none is (False)."""

    def on_load_progressed(self, fraction: float) -> None: ...

    def on_model_loaded(self, info: ModelInfo) -> None: ...

    def on_model_load_failed(self, message: str) -> None: ...

    def on_conversations_listed(self, items: list[Conversation], current: int | None) -> None:
        ...

    def on_conversation_cleared(self) -> None:
        """A blank chat: nothing stored yet."""

    def on_conversation_loaded(self, conversation: Conversation, path: list[Message]) -> None:
        ...

    def on_path_changed(self, path: list[Message], versions_switched: bool) -> None:
        """The active path changed: a new version (reply, edit) or another one shown."""

    def on_message_added(self, message: Message) -> None:
        """A user message was sent (the reply to it starts next)."""

    def on_reply_started(self, reply: Message, prefix: list[Step]) -> None:
        """A reply is being written; a branch starts with the steps of ``prefix``."""

    def on_prompt_rendered(self, tokens: list[Token], notice: str) -> None:
        """The prompt the model reads, as tokens; ``notice``: what the user should know."""

    def on_steps_arrived(self, steps: list[Step]) -> None: ...

    def on_step_waiting(self) -> None:
        """Step mode: the reply waits for leave to draw its next token."""

    def on_stats_changed(self, stats: dict[str, float]) -> None:
        """Some of context_used, tokens_per_second, first_token_s."""

    def on_reply_saved(self, message_id: int, steps: int) -> None:
        """A reply's text and its first ``steps`` steps are on disk."""

    def on_reply_finished(self, message: Message, in_view: bool) -> None:
        """A reply ended (or was stopped); ``in_view``: its conversation is the open one."""

    def on_reply_failed(self, message: Message, error: str) -> None: ...

    def on_traces_loaded(self, traces: dict[int, list[Step]]) -> None: ...

    def on_inspection_changed(self, message_id: int | None, steps: list[Step],
                              settings: SamplerSettings) -> None:
        """The reply the inspector shows, its steps so far and the settings it was drawn with."""

    def on_error(self, message: str) -> None: ...
