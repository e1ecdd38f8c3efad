"""``tokenwise bench --ui``: how responsive the window stays while a reply streams."""
