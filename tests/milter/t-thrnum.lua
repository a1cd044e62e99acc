-- t-thrnum: an explicit policy.spam_threshold overrides the threshold the
-- model records (0.0 here, which would flag every message)
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-thrnum.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
local _, status = t.verdict_headers(conn, "No")
t.ok(string.find(status, " threshold=1.01 ", 1, true) ~= nil,
     "the configured threshold is in force: " .. status)
t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no X-Spam-Flag")
mt.disconnect(conn)
