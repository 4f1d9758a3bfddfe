#!/usr/bin/env bash
# Regenerates completions/ from the binary's own generator: the scripts a
# release archive ships (installing them: README, "haderctl completion").
# Run it after changing `haderctl completion` or upgrading cobra; the test
# TestCompletionFilesAreWhatTheBinaryGenerates fails until you do. The
# release's before-hooks run it too.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p completions
for pair in bash:haderctl.bash zsh:_haderctl fish:haderctl.fish powershell:haderctl.ps1; do
  shell=${pair%%:*} file=completions/${pair#*:}
  # written aside first, so a failed run leaves the old file whole
  go run ./cmd/haderctl completion "$shell" > "$file.tmp"
  mv "$file.tmp" "$file"
done
