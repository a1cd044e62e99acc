-- t-8bit: raw 8-bit bytes, invalid UTF-8, NULs and bare CRs in headers and
-- body are scored like anything else
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-spam.conf")
t.begin(conn)
t.headers(conn, {
	{ "From", "\200\201\255 <x@example.org>" },
	{ "Subject", "=?utf-8?B?////?= \192\128 caf\233" },
	{ "Content-Type", "text/plain; charset=\"x-unknown\"" },
	{ "Content-Transfer-Encoding", "base64" },
})
local garbage = {}
for i = 0, 4095 do garbage[#garbage + 1] = string.char((i * 37 + 11) % 256) end
t.ok(mt.bodystring(conn, table.concat(garbage)) == nil, "body")
t.ok(mt.bodystring(conn, "\r\r\n\0\0\255\254 ====\r\n") == nil, "body 2")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "Yes")
t.ok(mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "8-bit Subject tagged")
mt.disconnect(conn)
