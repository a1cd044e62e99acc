-- t-timeout: the worker is slower than `timeout` (test_miltertest.sh sets
-- gptmilter --test-delay): tempfail
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-timeout.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_REPLYCODE, "eom")
t.ok(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
		  "Temporary failure checking for spam, try again later"), "451 4.3.0")
mt.disconnect(conn)
