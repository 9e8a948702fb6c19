"""``amber run``'s image cache: its layout, keys, freshness check and size cap.

On the restore path (``amber run`` decides and restores in one isolated interpreter): the
modules the restore path uses import only the base set."""
