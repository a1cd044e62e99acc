-- t-multiclass: a three-label model with a rule for every label: the rule
-- of the top label decides (here: discard)
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-multiclass.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_DISCARD, "eom")
mt.disconnect(conn)
