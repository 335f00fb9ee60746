# Helpers shared by the benchmark scripts (sourced by run.sh and postgres.sh).
# The caller defines log() and the globals `failed` (set to 1 by a failed
# command) and `results` (the table's lines).

now() { date +%s.%N; }
# elapsed START END -> seconds with 3 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# rate COUNT SECONDS -> COUNT/SECONDS, rounded
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
# ratio MEGASYNC_SECONDS BASELINE_SECONDS -> megasync speed / baseline speed
ratio() { awk -v m="$1" -v b="$2" 'BEGIN { printf "%.2fx", (m > 0 ? b / m : 0) }'; }
# row WORKLOAD MEGASYNC BASELINE RATIO : one line of the final table.
row() {
  local line
  line="$(printf '%-34s %-14s %-14s %s' "$@")"
  results+=("${line%"${line##*[! ]}"}")
}

# run_timed NAME LOGFILE CMD... : runs CMD (stdout+stderr to LOGFILE), sets $secs,
# returns CMD's status. Dirty pages of earlier steps are flushed first so that
# their writeback is not charged to this command.
run_timed() {
  local name="$1" logfile="$2"
  shift 2
  sync
  local t0 t1 status=0
  t0="$(now)"
  "$@" >"$logfile" 2>&1 || status=$?
  t1="$(now)"
  secs="$(elapsed "$t0" "$t1")"
  if [ "$status" -ne 0 ]; then
    log "$name failed (exit $status); last lines of its log:"
    tail -n 20 "$logfile" >&2
    failed=1
  else
    log "$name: $secs s"
  fi
  return "$status"
}
