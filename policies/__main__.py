"""``python -m policies tautologies ...`` prints a suite of generated tautologies;
``python -m policies compare-selectors ...`` compares selection rules at equal budgets."""

from __future__ import annotations

import sys

USAGE = ("usage: python -m policies tautologies [--count N] [--seed S] [--min-atoms A] [--max-atoms B] "
         "[--max-depth D] [--family NAME]\n"
         "       python -m policies compare-selectors [--tautologies N] [--suite SPEC] [--selectors a,b] "
         "[--expansions E] ... (--help)")

if __name__ == "__main__":
    command = sys.argv[1:2]
    if command == ["tautologies"]:
        from policies.tautologies import main

        raise SystemExit(main(sys.argv[2:]))
    if command == ["compare-selectors"]:
        from policies.compare import main as compare_main

        raise SystemExit(compare_main(sys.argv[2:]))
    print(USAGE, file=sys.stderr)
    raise SystemExit(2)
