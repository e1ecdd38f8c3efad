"""The local engine: the only package that imports llama_cpp. It loads a GGUF model (after
a crash-containing preflight), tokenizes, renders the chat template, and runs the decode
loop that yields a Step record per token, with the compiled vocabulary pass (_scan.c)."""
