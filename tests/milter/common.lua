-- common.lua - helpers for the miltertest cases t-*.lua (run by
-- test_miltertest.sh from a scratch directory holding model/, model3/ and
-- the case's .conf; GPTMILTER names the binary).
-- The protocol steps follow what gptmilter negotiates: no HELO, RCPT, DATA
-- or end-of-headers (miltertest refuses to send a step that was declined).
local M = {}

M.sock = "unix:" .. mt.getcwd() .. "/milter.sock"
-- sanitizer builds load the model and score slowly
mt.set_timeout(60)

function M.start(conf)
	local bin = os.getenv("GPTMILTER")
	if bin == nil then M.fail("GPTMILTER is not set") end
	-- MT_TEST_DELAY: gptmilter --test-delay (slow batches: t-timeout)
	local delay = os.getenv("MT_TEST_DELAY") or "0"
	mt.startfilter(bin, "-f", "-c", conf, "-p", M.sock,
		"--test-delay=" .. delay)
	return M.connect()
end

function M.connect()
	local conn = mt.connect(M.sock, 300, 0.2)
	if conn == nil then M.fail("cannot connect to " .. M.sock) end
	return conn
end

-- M.fail - miltertest does not print a script's error: say it, then stop
function M.fail(msg)
	mt.echo("FAILED: " .. msg)
	error(msg)
end

function M.reply(conn, want, what)
	local r = mt.getreply(conn)
	if r ~= want then
		M.fail(what .. ": reply " .. tostring(r) .. ", wanted " ..
		       tostring(want))
	end
end

function M.ok(cond, what)
	if not cond then M.fail(what) end
end

-- M.begin - connect info and MAIL FROM from client IP (default 192.0.2.10)
function M.begin(conn, ip)
	M.ok(mt.conninfo(conn, "client.example", ip or "192.0.2.10") == nil,
	     "conninfo")
	M.reply(conn, SMFIR_CONTINUE, "connect")
	M.ok(mt.mailfrom(conn, "<sender@example.org>") == nil, "mailfrom")
	M.reply(conn, SMFIR_CONTINUE, "mailfrom")
end

-- M.headers - send a list of {name, value} pairs
function M.headers(conn, list)
	for _, h in ipairs(list) do
		M.ok(mt.header(conn, h[1], h[2]) == nil, "header " .. h[1])
	end
end

M.plain = {
	{ "From", "Sender <sender@example.org>" },
	{ "To", "rcpt@example.net" },
	{ "Subject", "Quarterly report" },
	{ "Message-ID", "<t1@example.org>" },
}

-- M.verdict_headers - the score and status headers were added, well formed
function M.verdict_headers(conn, word)
	local score = mt.getheader(conn, "X-Spam-Score", 0)
	M.ok(score ~= nil and string.match(score, "^[01]%.%d%d%d$") ~= nil,
	     "X-Spam-Score added: " .. tostring(score))
	local status = mt.getheader(conn, "X-Spam-Status", 0)
	M.ok(status ~= nil, "X-Spam-Status added")
	M.ok(string.find(status, word .. ", score=" .. score ..
			  " threshold=", 1, true) == 1,
	     "X-Spam-Status starts with " .. word .. ": " .. status)
	M.ok(string.find(status, " model=", 1, true) ~= nil,
	     "X-Spam-Status names the model: " .. status)
	return score, status
end

return M
