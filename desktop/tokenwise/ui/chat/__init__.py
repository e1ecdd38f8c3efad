"""The chat column: conversation list, message cards with token-shaded text, the composer,
and the controller that runs the conversation flows."""
