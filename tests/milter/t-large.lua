-- t-large: a body far over max_scan_bytes is scored on its head
-- (test_miltertest.sh checks the log line says "truncated")
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-large.conf")
t.begin(conn)
t.headers(conn, t.plain)
local line = string.rep("lorem ipsum dolor sit amet ", 3) .. "\r\n"
local chunk = string.rep(line, 300)
for i = 1, 20 do
	t.ok(mt.bodystring(conn, chunk) == nil, "body chunk " .. i)
end
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)
