"""The decoding strategies lab: the Compare view (strategies side by side) and the Score view
(a text's every token scored in one pass)."""
