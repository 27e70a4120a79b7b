"""`make demo`: every stage end to end on the bundled sample (`python -m demo`)."""
