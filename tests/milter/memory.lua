-- memory.lua - one message through a running gptmilter (test_memory_milter.sh):
-- MEM_MSG (a file: headers, a blank line, the body) from a client outside
-- the trusted networks; the verdict must be MEM_WANT (No, Unsure, Yes) and
-- the memory's reason in X-Spam-Status must be MEM_REASON ("spam" or "ham":
-- " memory=LABEL:SIMILARITY"; "none": no memory= at all). Prints the
-- status line for the test's log. The daemon is the test's (milter.sock in
-- the current directory), not started here.
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local want = os.getenv("MEM_WANT")
local reason = os.getenv("MEM_REASON")
local f = io.open(os.getenv("MEM_MSG"), "rb")
if f == nil then t.fail("cannot read " .. tostring(os.getenv("MEM_MSG"))) end
local text = f:read("*a")
f:close()
local head, body = string.match(text, "^(.-)\r?\n\r?\n(.*)$")
t.ok(head ~= nil, "message has a header and a body")
local list = {}
for line in string.gmatch(head .. "\n", "(.-)\r?\n") do
	local name, value = string.match(line, "^([^:]+):%s*(.*)$")
	t.ok(name ~= nil, "header line: " .. line)
	table.insert(list, { name, value })
end

local conn = t.connect()
t.begin(conn)
t.headers(conn, list)
t.ok(mt.bodystring(conn, (string.gsub(body, "\r?\n", "\r\n"))) == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, want)
local status = mt.getheader(conn, "X-Spam-Status", 0)
mt.echo("X-Spam-Status: " .. status)
if reason == "none" then
	t.ok(string.find(status, "memory=", 1, true) == nil,
	     "no memory reason: " .. status)
else
	t.ok(string.match(status, " memory=" .. reason .. ":[01]%.%d%d%d$") ~= nil,
	     "memory reason " .. reason .. ": " .. status)
end
mt.disconnect(conn)
