"""From recipes to the heap program: the planner walks the graph, the compiler orders it in
stages, the assembler writes the pickle opcodes."""
