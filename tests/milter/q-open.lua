-- q-open.lua - a client of the SIGTERM-while-open check in
-- test_miltertest.sh: connects to the daemon the driver started (MT_SOCK),
-- sends MAIL FROM and the headers, creates the file MT_READY so that the
-- driver sends SIGTERM, waits MT_PAUSE seconds (longer than libmilter takes
-- to end its accept loop), then ends the message and expects a verdict.
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
t.sock = os.getenv("MT_SOCK")
local conn = t.connect()
t.begin(conn)
t.headers(conn, t.plain)
local f = assert(io.open(os.getenv("MT_READY"), "w"))
f:close()
mt.sleep(tonumber(os.getenv("MT_PAUSE")))
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)
