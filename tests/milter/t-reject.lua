-- t-reject: at or above reject_threshold: 550 5.7.1 with the configured text
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-reject.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.bodystring(conn, "Buy now.\r\n") == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_REPLYCODE, "eom")
t.ok(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
		  "Go away, spammer: policy at example.net"), "550 5.7.1 text")
t.ok(not mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
mt.disconnect(conn)
