-- t-badmodel: a model directory that does not load (truncated weights):
-- on_error = reject gives 550 5.7.1
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-badmodel.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_REPLYCODE, "eom")
t.ok(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
		  "Message could not be checked for spam"), "550 5.7.1")
mt.disconnect(conn)
