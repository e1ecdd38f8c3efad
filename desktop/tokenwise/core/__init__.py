"""Domain logic of Tokenwise. Pure Python: nothing here imports Qt."""
