-- t-trusted: clients in skip.trusted_networks are not scanned, IPv4 and
-- IPv6, but forged verdict headers are still removed and each message
-- is logged (test_miltertest.sh checks the lines); others are scanned
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-trusted.conf")
local forged = {
	{ "X-Spam-Flag", "NO" },
	{ "X-Spam-Status", "No, score=0.000 forged" },
}
for _, ip in ipairs({ "192.0.2.77", "2001:db8::25" }) do
	t.begin(conn, ip)
	t.headers(conn, t.plain)
	t.headers(conn, forged)
	t.ok(mt.bodystring(conn, "Hello.\r\n") == nil, "body")
	t.ok(mt.eom(conn) == nil, "eom")
	t.reply(conn, SMFIR_CONTINUE, "trusted client " .. ip)
	t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"),
	     "forged X-Spam-Flag deleted for " .. ip)
	t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status"),
	     "forged X-Spam-Status deleted for " .. ip)
	t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Score"),
	     "trusted client " .. ip .. " not scanned")
	mt.disconnect(conn)
	conn = t.connect()
end

t.begin(conn, "198.51.100.1")
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)
