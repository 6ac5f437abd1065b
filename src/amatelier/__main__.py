"""`python -m amatelier` runs the CLI."""

from amatelier.cli import main

if __name__ == "__main__":
    main()
