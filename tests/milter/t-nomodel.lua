-- t-nomodel: the model cannot be loaded: the daemon runs, every message
-- gets policy.on_error (tempfail: 451 4.3.0)
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-nomodel.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_REPLYCODE, "eom")
t.ok(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
		  "Temporary failure checking for spam, try again later"), "451 4.3.0")
t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Score"), "no verdict")
mt.disconnect(conn)
