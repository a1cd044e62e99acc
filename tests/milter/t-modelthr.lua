-- t-modelthr: the default spam_threshold ("model") applies the threshold
-- the model records (0.0 here: every message is spam) and says so
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-modelthr.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
local _, status = t.verdict_headers(conn, "Yes")
t.ok(string.find(status, " threshold=0 ", 1, true) ~= nil,
     "the model's threshold is in force: " .. status)
t.ok(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "X-Spam-Flag: YES")
mt.disconnect(conn)
