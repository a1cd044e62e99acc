#!/bin/sh
# bench_forward.sh - the GPT-2 forward benchmark, one command
#
# Usage: sh bench/bench_forward.sh [BUILDDIR]     (or: make bench-forward)
# Builds bench/bench_forward in BUILDDIR (default .), then runs, on the
# GPT-2 124M shape with random weights, 256 tokens per message, 2 threads:
#   1. bench_forward: messages/s at 1 and 8 messages per call, the forward's
#      GFLOP/s beside OpenBLAS's sgemm alone on the same list of calls;
#   2. bench_forward_torch.py (Debian's PyTorch, fp32, same shapes) in
#      several configurations (eager inference_mode, TorchScript frozen, and
#      with the last block on the last token only), torch.set_num_threads(2)
#      (OpenMP waiting passively, and actively as by default) and 1 (with
#      OpenBLAS's 2), with glibc malloc and with tcmalloc (LD_PRELOAD
#      libtcmalloc_minimal.so.4). Take the best line.
# The machine's 2 cores may be shared: every figure is the best of REPS
# (default 3) runs; run it twice and compare. It takes several minutes.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset so that OpenBLAS picks
# its kernels itself.
# Environment: REPS, TOKENS (256), THREADS (2), PY (/usr/bin/python3),
# TORCH_CONFIGS (see bench_forward_torch.py), TORCH_VARIANTS (see below).
set -eu

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-.}
REPS=${REPS:-3}
TOKENS=${TOKENS:-256}
THREADS=${THREADS:-2}
PY=${PY:-/usr/bin/python3}
TORCH_CONFIGS=${TORCH_CONFIGS:-inference,jit+last}
TORCH_VARIANTS=${TORCH_VARIANTS:-glibc:2:passive tcmalloc:2:passive \
glibc:1:active tcmalloc:1:active glibc:2:active}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS="$THREADS"

if ! make -C "$builddir" bench/bench_forward >/dev/null 2>&1; then
	make -C "$builddir" bench/bench_forward	# again, to show why
	exit 1
fi
echo "== bench_forward.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs:" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "   OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; load average:" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== gptmilter (OpenBLAS), best of $REPS"
"$builddir/bench/bench_forward" --tokens "$TOKENS" --threads "$THREADS" \
	--batch 1,8 --reps "$REPS"
echo

TCMALLOC=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
	if [ -e "$d/libtcmalloc_minimal.so.4" ]; then
		TCMALLOC="$d/libtcmalloc_minimal.so.4"
		break
	fi
done
echo "== PyTorch, best of $REPS"
# Variants malloc:torch-threads:OpenMP-wait-policy. torch.set_num_threads(2)
# as asked; with OpenMP's default ACTIVE wait its idle threads spin on the
# 2 cores that OpenBLAS's threads need for every product, which made each
# small op cost ~12 ms here (5 s a message): PASSIVE, or torch's own
# kernels on 1 thread (OpenBLAS still on 2), avoid that. The slow default
# runs last.
for v in $TORCH_VARIANTS; do
	malloc=${v%%:*}
	rest=${v#*:}
	tt=${rest%%:*}
	wait=${rest#*:}
	pre=
	if [ "$malloc" = tcmalloc ]; then
		if [ -z "$TCMALLOC" ]; then
			echo "(libtcmalloc_minimal.so.4 not found: install libtcmalloc-minimal4)"
			continue
		fi
		pre="LD_PRELOAD=$TCMALLOC"
	fi
	env $pre OMP_WAIT_POLICY="$wait" "$PY" \
		"$top_srcdir/bench/bench_forward_torch.py" \
		--tokens "$TOKENS" --threads "$tt" --reps "$REPS" \
		--configs "$TORCH_CONFIGS" \
		--label "$malloc,torch-threads=$tt,omp-wait=$wait" 2>&1 |
		grep -v -e TracerWarning -e 'att = (q @'
done
