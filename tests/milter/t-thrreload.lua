-- t-thrreload: with spam_threshold "model" the threshold follows the model
-- on reload (model-thr records 0.0, model-thr37 0.37), and a number set by
-- a later reload overrides the model's; the verdict agrees with the
-- threshold= the status header shows
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conf = "t-thrreload-run.conf"
local function write(model, threshold)
	local f = assert(io.open(conf, "w"))
	f:write("model = \"" .. model .. "\";\n")
	f:write("policy: { ")
	if threshold ~= nil then
		f:write("spam_threshold = " .. threshold .. "; ")
	end
	f:write("reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };\n")
	f:write("skip: { trusted_networks = []; };\n")
	f:close()
end
-- one message: its status header, after checking the verdict matches
local function status_of(what, thr)
	local conn = t.connect()
	t.begin(conn)
	t.headers(conn, t.plain)
	t.ok(mt.eom(conn) == nil, "eom " .. what)
	t.reply(conn, SMFIR_CONTINUE, "eom " .. what)
	local score = tonumber(mt.getheader(conn, "X-Spam-Score", 0))
	local status = mt.getheader(conn, "X-Spam-Status", 0)
	local flag = mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES")
	mt.disconnect(conn)
	t.ok(score ~= nil and status ~= nil, "verdict headers " .. what)
	-- (the header's score is rounded: no check right at the threshold)
	-- (miltertest's Lua has no math library)
	local d = score - tonumber(thr)
	if string.find(status, " threshold=" .. thr .. " ", 1, true) and
	   (d > 0.001 or d < -0.001) then
		local yes = score >= tonumber(thr)
		t.ok(yes == flag and
		     string.find(status, yes and "Yes," or "No,", 1, true) == 1,
		     what .. ": verdict disagrees with threshold " .. thr ..
		     ": " .. status)
	end
	return status
end
-- wait_for - send messages until the status shows threshold=THR (the
-- reload loads the model again: seconds in a sanitizer build)
local function wait_for(what, thr)
	local status
	for try = 1, 120 do
		status = status_of(what, thr)
		if string.find(status, " threshold=" .. thr .. " ", 1, true) then
			return status
		end
		mt.sleep(0.5)
	end
	t.fail(what .. ": threshold=" .. thr .. " never shown: " .. status)
end

write("model-thr", nil)
mt.startfilter(os.getenv("GPTMILTER"), "-f", "-c", conf, "-p", t.sock)
wait_for("start, the model's 0.0", "0")

write("model-thr37", nil)
mt.signal(10)	-- SIGUSR1: reload
local s = wait_for("reload to a model recording 0.37", "0.37")
t.ok(string.find(s, " model=tiny-thr37", 1, true) ~= nil,
     "the new model scored: " .. s)

write("model-thr37", "0.6")
mt.signal(1)	-- SIGHUP: reload
wait_for("reload with spam_threshold = 0.6", "0.6")

-- a reload whose model cannot be loaded keeps the old model but applies
-- the new policy: back to "model", which means the kept model's 0.37
-- (test_miltertest.sh checks that the log says so)
write("no-such-model", nil)
mt.signal(1)	-- SIGHUP: reload
s = wait_for("failed model load, policy back to \"model\"", "0.37")
t.ok(string.find(s, " model=tiny-thr37", 1, true) ~= nil,
     "the kept model scored: " .. s)
