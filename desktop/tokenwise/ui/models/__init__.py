"""The Models window: installed models, the catalogue, hub search and the download rows."""
