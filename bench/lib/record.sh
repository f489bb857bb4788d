# Shared by bench/*/run.sh (source it right after ROOT is set): the result tables a benchmark prints are
# appended to docs/performance.md, under "## Run log", with the date, the commit and the command, so every
# run leaves its figures where the hand-written analysis above them can cite them.
#   record_start "TFTP" "$@"     at the start: stdout is also captured from here on
#   record_finish [REGEX]        at the end (only reached when the run succeeded): appends the lines that
#                                match REGEX (default: markdown table rows) from what the run printed
# RECORD=0 turns it off (trial runs, profiling).

record_start() {
  RECORD_NAME=$1
  local v envs=''
  # the settings the bench scripts read from the environment, as the command line to repeat the run
  for v in ROUNDS SECS REPS SIZE_MIB MACHINES CONNS TESTS WINDOW_MS FARRIER_DURABILITY SERVERS CLIENTS DURATION NGINX_WORKERS; do
    [ -n "${!v:-}" ] && envs+="$v=${!v} "
  done
  RECORD_CMD="$envs${0#"$ROOT/"}${2:+ ${*:2}}"
  [ "${RECORD:-1}" = 1 ] || return 0
  RECORD_LOG=$(mktemp /tmp/farrier-bench-record.XXXXXX)
  exec {RECORD_STDOUT}>&1
  exec > >(tee "$RECORD_LOG")
  RECORD_TEE=$!
}

record_finish() {
  [ "${RECORD:-1}" = 1 ] || return 0
  local pattern=${1:-'^\|'} doc=$ROOT/docs/performance.md rev
  # back to the real stdout: tee sees the end of its input, writes the rest and exits
  exec >&"$RECORD_STDOUT" {RECORD_STDOUT}>&-
  wait "$RECORD_TEE" 2>/dev/null || true
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  # the run log itself does not count as a change to what was measured
  git -C "$ROOT" diff --quiet HEAD -- . ':!docs/performance.md' 2>/dev/null || rev="$rev + uncommitted changes"
  grep -q '^## Run log' "$doc" || printf '\n## Run log\n\nAppended by the benchmarks themselves (`bench/lib/record.sh`; `RECORD=0` turns it off): the tables each\nrun printed, newest last. The sections above cite and explain them.\n' >>"$doc"
  {
    printf '\n### %s, %s UTC, commit %s\n\n`%s`\n\n' "$RECORD_NAME" "$(date -u '+%Y-%m-%d %H:%M')" "$rev" "$RECORD_CMD"
    # tables separated in the output stay separate tables
    if [ "$pattern" = '^\|' ]; then awk '/^\|/ { if (gap && n) print ""; print; n++; gap = 0; next } { gap = 1 } END { if (!n) print "(no table printed)" }' "$RECORD_LOG"
    else printf '```\n'; grep -E "$pattern" "$RECORD_LOG" || echo '(no table printed)'; printf '```\n'; fi
  } >>"$doc"
  rm -f "$RECORD_LOG"
  echo "results appended to docs/performance.md (## Run log)"
}
