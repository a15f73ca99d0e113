"""``python -m policies tautologies [--count N] [--seed S] ...``: print a suite of generated tautologies."""

from __future__ import annotations

import sys

from policies.tautologies import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["tautologies"]:
        print("usage: python -m policies tautologies [--count N] [--seed S] [--min-atoms A] [--max-atoms B] "
              "[--max-depth D] [--family NAME]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[2:]))
