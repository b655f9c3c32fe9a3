"""`python -m dtgkit ...` is the same as the `dtgkit` console script."""
from dtgkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
