#!/usr/bin/env bash
# Checks the commit messages of a range (default: what this branch adds to main) against the rule in
# CONTRIBUTING.md: a subject of at most 72 characters, a blank line, a body wrapped at 72. Lines of
# the body that are indented (code, output) or hold a URL may be longer. Run it before you land:
#
#   scripts/check-commits.sh              # main..HEAD
#   scripts/check-commits.sh HEAD~3..HEAD
#
# Exits 1 and names each commit and line that breaks the rule.
set -euo pipefail
range=${1:-main..HEAD}
status=0
for commit in $(git rev-list --reverse "$range"); do
  short=$(git rev-parse --short "$commit")
  problems=$(git log -1 --format=%B "$commit" | awk '
    NR == 1 && length($0) > 72 { printf "  subject is %d characters (at most 72)\n", length($0) }
    NR == 1 && /\.$/ { print "  subject ends with a full stop" }
    NR == 2 && length($0) > 0 { print "  no blank line after the subject" }
    NR > 2 && length($0) > 72 && !/^[ \t]/ && !/[a-z]+:\/\// { printf "  body line %d is %d characters (wrap at 72)\n", NR, length($0) }
  ')
  if [ -n "$problems" ]; then
    echo "$short $(git log -1 --format=%s "$commit" | cut -c1-60)"
    echo "$problems"
    status=1
  fi
done
exit "$status"
