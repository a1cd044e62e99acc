-- t-padded: filler headers cannot crowd the body out of max_scan_bytes
-- (issue 17: five big filler headers left the model Subject and From
-- alone): the padded message scores exactly as the plain one
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-padded.conf")
local body = string.rep("Cheap meds and watches, click here to order now.\r\n", 40)

-- score - send the message with the header list HDRS, return X-Spam-Score
local function score(hdrs)
	t.begin(conn)
	t.headers(conn, hdrs)
	t.ok(mt.bodystring(conn, body) == nil, "body")
	t.ok(mt.eom(conn) == nil, "eom")
	t.reply(conn, SMFIR_CONTINUE, "eom")
	local s = t.verdict_headers(conn, "No")
	mt.disconnect(conn)
	conn = t.connect()
	return s
end

local plain = score(t.plain)
local padded = {}
-- (miltertest overruns its stack on a header over about 1 KB: many
-- headers of 900 bytes, 90 KB in all, instead of a few big ones)
for i = 1, 100 do
	table.insert(padded, { "X-Filler-" .. i, string.rep("a", 900) })
end
for _, h in ipairs(t.plain) do table.insert(padded, h) end
local got = score(padded)
t.ok(got == plain, "padded message scored " .. got .. ", plain " .. plain)
mt.disconnect(conn)
