"""Conversations: their flows (send, stop, regenerate, edit, versions, branch), a reply
streamed and saved as it goes, the engine's work for them, the chat template renderer, the
SQLite store and its schema."""
