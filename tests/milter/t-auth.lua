-- t-auth: SMTP-authenticated senders ({auth_authen}) are not scanned, but
-- forged verdict headers are still removed and the message is logged
-- (test_miltertest.sh checks the line)
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-auth.conf")
t.ok(mt.conninfo(conn, "client.example", "192.0.2.10") == nil, "conninfo")
t.reply(conn, SMFIR_CONTINUE, "connect")
t.ok(mt.macro(conn, SMFIC_MAIL, "i", "AUTHQ1", "{auth_authen}", "alice") == nil,
     "macro")
t.ok(mt.mailfrom(conn, "<alice@example.org>") == nil, "mailfrom")
t.reply(conn, SMFIR_CONTINUE, "authenticated sender")
t.headers(conn, t.plain)
t.headers(conn, { { "X-Spam-Flag", "NO" } })
t.ok(mt.bodystring(conn, "Hello.\r\n") == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.ok(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"), "forged X-Spam-Flag deleted")
t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Score"), "not scanned")
t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no flag added")

-- control characters in macros must not make log lines of their own
-- (test_miltertest.sh checks the log)
t.ok(mt.macro(conn, SMFIC_MAIL, "i", "AUTHQ2\r\nFAKEQ",
	      "{auth_authen}", "mallory\n00:00:00.000 gptmilter[1]: FAKE " ..
	      "line\001") == nil, "macro 2")
t.ok(mt.mailfrom(conn, "<mallory@example.org>") == nil, "mailfrom 2")
t.reply(conn, SMFIR_CONTINUE, "authenticated sender 2")
t.headers(conn, t.plain)
t.ok(mt.eom(conn) == nil, "eom 2")
t.reply(conn, SMFIR_CONTINUE, "eom 2")
mt.disconnect(conn)
