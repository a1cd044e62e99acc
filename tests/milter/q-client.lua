-- q-client.lua - one client of the queue-full check in test_miltertest.sh:
-- connects to the daemon the driver started (MT_SOCK), sends one message
-- and expects MT_EXPECT: "continue" (scored), "tempfail" (queue full) or
-- "any" (either; prints OUTCOME continue|tempfail for the driver to count).
-- A scored message prints STATUS and the X-Spam-Status header added.
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
t.sock = os.getenv("MT_SOCK")
local conn = t.connect()
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
local expect = os.getenv("MT_EXPECT")
if expect == "any" then
	if mt.getreply(conn) == SMFIR_REPLYCODE then
		expect = "tempfail"
	else
		expect = "continue"
	end
	mt.echo("OUTCOME " .. expect)
end
if expect == "tempfail" then
	t.reply(conn, SMFIR_REPLYCODE, "eom")
	t.ok(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
		  "Temporary failure checking for spam, try again later"),
	     "451 4.3.0")
else
	t.reply(conn, SMFIR_CONTINUE, "eom")
	local _, status = t.verdict_headers(conn, "No")
	mt.echo("STATUS " .. status)
end
mt.disconnect(conn)
