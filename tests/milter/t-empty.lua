-- t-empty: no headers and no body still gets a verdict
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-ham.conf")
t.begin(conn)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)
