"""How one token is drawn: sampler settings and presets, the stages in llama.cpp's order,
and the same pipeline in numpy for what-if previews on stored logits."""
