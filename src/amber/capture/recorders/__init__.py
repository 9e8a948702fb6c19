"""What the program does while it runs to its snapshot point, recorded as it happens: the
base set's baseline, imports, registrations with the interpreter, entropy drawn, inputs read."""
