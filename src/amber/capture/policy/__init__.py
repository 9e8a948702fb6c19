"""What must not be written into an image: secrets (the scan)."""
