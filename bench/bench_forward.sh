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
#      and (1 + OpenBLAS's 2), with glibc malloc and with tcmalloc
#      (LD_PRELOAD libtcmalloc_minimal.so.4). Take the best line.
# The machine's 2 cores may be shared: every figure is the best of REPS
# (default 3) runs; run it twice and compare. It takes several minutes.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset so that OpenBLAS picks
# its kernels itself.
# Environment: REPS, TOKENS (256), THREADS (2), PY (/usr/bin/python3),
# TORCH_CONFIGS (see bench_forward_torch.py), TORCH_THREADS ("2 1").
set -eu

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-.}
REPS=${REPS:-3}
TOKENS=${TOKENS:-256}
THREADS=${THREADS:-2}
PY=${PY:-/usr/bin/python3}
TORCH_CONFIGS=${TORCH_CONFIGS:-inference,jit+last}
TORCH_THREADS=${TORCH_THREADS:-2 1}
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
# torch.set_num_threads(2) as asked, with OpenMP's default (active) wait;
# and torch's own kernels on 1 thread with OpenBLAS's 2 threads for the
# products, as gptmilter runs (OpenMP and OpenBLAS threads then never
# compete for the 2 cores). Each with glibc malloc and with tcmalloc.
for malloc in glibc tcmalloc; do
	if [ "$malloc" = tcmalloc ] && [ -z "$TCMALLOC" ]; then
		echo "(libtcmalloc_minimal.so.4 not found: install libtcmalloc-minimal4)"
		continue
	fi
	for tt in $TORCH_THREADS; do
		pre=
		[ "$malloc" = tcmalloc ] && pre="LD_PRELOAD=$TCMALLOC"
		env $pre "$PY" "$top_srcdir/bench/bench_forward_torch.py" \
			--tokens "$TOKENS" --threads "$tt" --reps "$REPS" \
			--configs "$TORCH_CONFIGS" \
			--label "$malloc,torch-threads=$tt" 2>&1 |
			grep -v -e TracerWarning -e 'att = (q @'
	done
done
