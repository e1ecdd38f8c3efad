"""The decoding strategies lab: one prompt written by several strategies side by side
(greedy, beam search, sampling), measured on the model's own distribution."""
