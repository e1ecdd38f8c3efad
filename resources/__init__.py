"""Tokenwise's data files (icons, style sheet, catalogue, desktop entry, metainfo): installed
as the package ``tokenwise.resources``, so a checkout, a wheel and the frozen bundle find
them the same way, through importlib.resources."""
