-- t-reload: SIGHUP re-reads the configuration (here: a lower threshold)
-- and the model; the daemon keeps serving
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conf = "t-reload-run.conf"
local function write(threshold, extra)
	local f = assert(io.open(conf, "w"))
	f:write("model = \"model\";\n" .. (extra or ""))
	f:write("policy: { spam_threshold = " .. threshold ..
		"; reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };\n")
	f:write("skip: { trusted_networks = []; };\n")
	f:close()
end
write("1.01")
local conn = t.start(conf)
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "No")
mt.disconnect(conn)

-- workers: read at start only, so the reload keeps 2 and says so
write("0.0", "workers = 3;\n")
mt.signal(1)	-- SIGHUP
-- the reload loads the model again (seconds in a sanitizer build); until
-- it is done, messages get the old configuration
local flagged = false
for try = 1, 120 do
	conn = t.connect()
	t.begin(conn)
	t.headers(conn, t.plain)
	t.ok(mt.eom(conn) == nil, "eom after reload")
	t.reply(conn, SMFIR_CONTINUE, "eom after reload")
	flagged = mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES")
	mt.disconnect(conn)
	if flagged then break end
	mt.sleep(0.5)
end
t.ok(flagged, "the new threshold applies after SIGHUP")

-- a broken configuration is refused and the old one kept
local f = assert(io.open(conf, "w"))
f:write("policy: { spam_threshold = \"high\"; };\n")
f:close()
mt.signal(10)	-- SIGUSR1, the same reload
mt.sleep(1)
conn = t.connect()
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom after bad reload")
t.reply(conn, SMFIR_CONTINUE, "eom after bad reload")
t.verdict_headers(conn, "Yes")
mt.disconnect(conn)
