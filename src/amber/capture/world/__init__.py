"""Which modules are captured by value and which are imported again at restore (the rules,
and the probe that asks a fresh interpreter what importing them again does)."""
