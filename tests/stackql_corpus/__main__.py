"""`python -m tests.stackql_corpus [--json FILE] [ID ...]`: plan and run the StackQL corpus, print the counts and
the failures by cause; --json also writes every statement's outcome, to compare two runs."""

import argparse
import dataclasses
import json

from tests.stackql_corpus import classify, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.stackql_corpus")
    parser.add_argument("ids", nargs="*", help="only these statements (default: all)")
    parser.add_argument("--json", metavar="FILE", help="write each statement's outcome and cause to FILE")
    args = parser.parse_args()
    report = run(only=set(args.ids) or None)
    print(report.summary())
    if args.json:
        rows = [
            dict(
                dataclasses.asdict(o),
                planned=o.planned,
                ran=o.ran,
                plan_cause=o.plan_error and classify(o.plan_error, o.kind),
                run_cause=o.run_error and classify(o.run_error, o.kind),
            )
            for o in report.outcomes
        ]
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)
