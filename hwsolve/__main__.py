from hwsolve.cli import run

run()
