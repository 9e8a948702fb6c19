"""Capturing: run a program to its snapshot point, plan its object graph, compile it into an image."""
