-- t-quarantine: policy.quarantine holds the message instead of rejecting
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-quarantine.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.ok(mt.eom_check(conn, MT_QUARANTINE), "quarantined")
t.verdict_headers(conn, "Yes")
t.ok(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "flagged")
mt.disconnect(conn)
