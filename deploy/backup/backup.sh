#!/bin/sh
# pg_dump loop for the compose `backup` service: one custom-format dump
# every BACKUP_INTERVAL seconds into BACKUP_DIR, the newest BACKUP_KEEP
# kept. BACKUP_ONCE=1 takes one dump and exits (for cron/systemd timers
# and the restore drill in README.md). Connection from the libpq
# variables PGHOST, PGUSER, PGDATABASE, PGPASSWORD.
#
# A dump is written under a temporary name and renamed when complete, so
# a file named manaauth-*.dump is always a whole one.
set -eu
# Dumps hold addresses, password hashes and sealed keys: owner only.
umask 077
dir="${BACKUP_DIR:-/backups}"
interval="${BACKUP_INTERVAL:-86400}"
keep="${BACKUP_KEEP:-14}"

dump() {
	name="manaauth-$(date -u +%Y%m%dT%H%M%SZ).dump"
	if pg_dump --format=custom --file="$dir/.$name.partial"; then
		mv "$dir/.$name.partial" "$dir/$name"
		echo "backup: wrote $dir/$name ($(wc -c <"$dir/$name") bytes)"
	else
		rm -f "$dir/.$name.partial"
		echo "backup: pg_dump failed" >&2
		return 1
	fi
	# Oldest beyond the newest $keep go (names sort by time).
	ls -1 "$dir"/manaauth-*.dump 2>/dev/null | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
		rm -f "$old" && echo "backup: removed $old"
	done
}

mkdir -p "$dir"
if [ "${BACKUP_ONCE:-}" = 1 ]; then
	dump
	exit
fi
while :; do
	dump || true # a failed night must not stop the next one; the log says it
	sleep "$interval"
done
