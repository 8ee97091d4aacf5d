"""`python -m tests.stackql_corpus [ID ...]`: plan and run the StackQL corpus, print counts and failures by cause."""

import sys

from tests.stackql_corpus import run

if __name__ == "__main__":
    report = run(only=set(sys.argv[1:]) or None)
    print(report.summary())
