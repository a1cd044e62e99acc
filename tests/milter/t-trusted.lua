-- t-trusted: clients in skip.trusted_networks are accepted unscanned, IPv4
-- and IPv6; others are scanned
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-trusted.conf")
t.ok(mt.conninfo(conn, "inside.example", "192.0.2.77") == nil, "conninfo")
t.reply(conn, SMFIR_ACCEPT, "trusted IPv4 client")
mt.disconnect(conn)

conn = t.connect()
t.ok(mt.conninfo(conn, "inside6.example", "2001:db8::25") == nil, "conninfo6")
t.reply(conn, SMFIR_ACCEPT, "trusted IPv6 client")
mt.disconnect(conn)

conn = t.connect()
t.begin(conn, "198.51.100.1")
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)
