"""Model files: the GGUF reader, memory fit, the local library, the catalogue, the hub
client, verified resumable downloads and their queue."""
