#!/bin/sh
# test_install.sh - `make install` into a scratch DESTDIR, as an
# administrator would run it: the sample configuration lands where
# gptmilter looks for it by default (-c), names the installed model, passes
# `gptmilter -n`, and survives a second install; the man pages and the
# systemd unit name the configured paths, with no placeholder left.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
G="$top_builddir/src/milter/gptmilter"
[ -x "$G" ] || { echo "FAIL: $G not built"; exit 1; }
. "$top_srcdir/tests/lib.sh"
workdir install
dest="$tmp/dest"

inst() {
	make -C "$top_builddir" install DESTDIR="$dest" > "$tmp/install.log" 2>&1 ||
		{ fail "make install"; tail -20 "$tmp/install.log"; exit 1; }
}
inst
conf=$("$G" -h | sed -n 's/^  -c FILE   configuration (default \(.*\))$/\1/p')
[ -n "$conf" ] || { fail "gptmilter -h names no default configuration"; exit 1; }
[ -f "$dest$conf" ] || { fail "make install put no configuration at $conf"; exit 1; }
model=$(sed -n 's/^#model = "\(.*\)";$/\1/p' "$dest$conf")
[ -f "$dest$model/config.json" ] ||
	fail "the installed sample's model \"$model\" is not where make install put the model"
sed "s|^#model = .*|model = \"$dest$model\";|" "$dest$conf" > "$tmp/check.conf"
out=$("$G" -n -c "$tmp/check.conf" 2>&1) || fail "gptmilter -n on the installed sample: $out"
case $out in *warning*) fail "the installed sample draws a warning: $out";; esac

# a second install keeps the administrator's file
echo '# changed by the administrator' >> "$dest$conf"
inst
grep -q '^# changed by the administrator$' "$dest$conf" ||
	fail "a second make install overwrote $conf"
grep -q "gptmilter.conf exists: not replaced" "$tmp/install.log" ||
	fail "a second make install did not say it kept $conf"

# the documents name the real paths
unit=$(find "$dest" -name gptmilter.service)
[ -n "$unit" ] || fail "no systemd unit installed"
for f in $(find "$dest" -name '*.[158]') $unit; do
	grep -n '@[A-Z]*@\|SYSCONFDIR\|DATADIR' "$f" && fail "$f: a placeholder is left"
done
man8=$(find "$dest" -name gptmilter.8)
man5=$(find "$dest" -name gptmilter.conf.5)
grep -q "$conf" "$man8" || fail "gptmilter(8) does not name $conf"
grep -q "$conf" "$man5" || fail "gptmilter.conf(5) does not name $conf"
grep -q "$model" "$man5" || fail "gptmilter.conf(5) does not name $model"
man1=$(find "$dest" -name gptmilter-train.1)
grep -q "$model" "$man1" ||
	fail "gptmilter-train(1) does not name $model, its default tokenizer"
sbin=$(dirname "$(find "$dest" -path '*/sbin/gptmilter')")
grep -qx "ExecStart=${sbin#"$dest"}/gptmilter -f -c $conf -u gptmilter" "$unit" ||
	fail "the unit does not start ${sbin#"$dest"}/gptmilter with $conf"
grep -qx "ExecStartPre=${sbin#"$dest"}/gptmilter -n -c $conf" "$unit" ||
	fail "the unit does not check $conf first"

[ $fails -eq 0 ] && echo "PASS: make install ($conf)"
finish test_install
