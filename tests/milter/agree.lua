-- agree.lua - one message through gptmilter for test_score_agree.sh (not a
-- t-* case: it needs the configuration MT_CONF and the verdict MT_WANT,
-- Yes or No, from the test). The message is the one the test also writes
-- to a file for gptmilter-classify: common.lua's plain headers, then the
-- body below.
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start(os.getenv("MT_CONF"))
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.bodystring(conn, "Cheap meds, click here.\r\n") == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
local _, status = t.verdict_headers(conn, os.getenv("MT_WANT"))
mt.echo("X-Spam-Status: " .. status)
mt.disconnect(conn)
