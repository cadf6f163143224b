"""Per-student variants of a problem (issue 15): templates whose numbers are drawn per student,
the question printed without its solution, per-student sheets and keys, grading against them."""
