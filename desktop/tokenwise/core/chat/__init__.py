"""Conversations: the chat template renderer, the SQLite store and its schema."""
