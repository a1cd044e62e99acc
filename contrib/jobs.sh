# shellcheck shell=sh
# jobs.sh - run shell commands in the background, JOBS (default 2) at a
# time; sourced by contrib/make-default-model.sh and bench/bench_kfold.sh.
#   job_start CMD [ARG...]  CMD in the background; while JOBS run, first
#                           waits for the oldest (exit 1 if it failed)
#   job_wait_all            waits for the rest (exit 1 if one failed)
# POSIX sh: dash has no `wait -n`, so the oldest job is the one waited for.
job_pids=

job_start() {
	"$@" &
	job_pids="$job_pids $!"
	# shellcheck disable=SC2086
	if [ "$(echo $job_pids | wc -w)" -ge "${JOBS:-2}" ]; then
		job_oldest=${job_pids# }
		job_oldest=${job_oldest%% *}
		wait "$job_oldest" || exit 1
		job_pids=${job_pids#* "$job_oldest"}
	fi
}

job_wait_all() {
	for job_pid in $job_pids; do
		wait "$job_pid" || exit 1
	done
	job_pids=
}
