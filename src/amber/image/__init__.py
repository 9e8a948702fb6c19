"""The image file: its layout is declared in :mod:`amber.image.format`."""
