# tests/train_lib.sh - sourced by the gptmilter-train tests: lib.sh (the
# failure counter, fail/die/ok, finish) and a generator of easy synthetic mail.
# shellcheck shell=sh
. "$top_srcdir/tests/lib.sh"

# mk DIR LABEL N SEED [MIX] - N messages of LABEL (ham or spam) in DIR:
# ham talks about meetings, spam about prizes; with MIX (< 1) each word is
# of the message's own class with that probability only, so the classes
# overlap. Without MIX the corpus is the same as before MIX existed.
mk() {
	mkdir -p "$1"
	awk -v dir="$1" -v label="$2" -v n="$3" -v seed="$4" -v mix="${5:-1}" '
	function word() {
		own = mix >= 1 ? 1 : rand() < mix
		if ((label == "spam") == own)
			return sw[int(rand() * 15) + 1]
		return hw[int(rand() * 15) + 1]
	}
	BEGIN {
		srand(seed)
		split("meeting project agenda notes review tuesday team schedule " \
		      "report budget minutes draft lunch office call", hw, " ")
		split("winner prize cash free offer click money claim urgent " \
		      "lottery bonus discount deal casino credit", sw, " ")
		for (i = 0; i < n; i++) {
			f = dir "/m" i ".eml"
			subj = ""; body = ""
			for (k = 0; k < 3; k++)
				subj = subj " " word()
			for (k = 0; k < 16; k++)
				body = body " " word()
			printf "From: someone%d@example.com\nTo: user@example.org\nSubject:%s\n\nHello,%s.\n", i, subj, body > f
			close(f)
		}
	}'
}
