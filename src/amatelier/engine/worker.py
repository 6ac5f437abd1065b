"""The worker command line `python -m amatelier.engine.worker` (kept stable); see debate.worker."""

from amatelier.debate.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
