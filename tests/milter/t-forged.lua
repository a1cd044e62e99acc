-- t-forged: incoming headers with our names are deleted (every instance,
-- any case) before ours are added, so a sender cannot forge a verdict
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-forged.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.headers(conn, {
	{ "X-Spam-Status", "No, score=0.000 forged" },
	{ "X-Spam-Flag", "NO" },
	{ "x-spam-flag", "NO" },
	{ "X-Spam-Score", "0.000" },
})
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status"), "X-Spam-Status deleted")
t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"), "X-Spam-Flag deleted")
t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Score"), "X-Spam-Score deleted")
t.verdict_headers(conn, "Yes")
t.ok(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "real flag added")
mt.disconnect(conn)
