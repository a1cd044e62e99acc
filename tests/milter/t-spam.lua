-- t-spam: at or above spam_threshold: flag, Yes, subject tag
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-spam.conf")
t.begin(conn)
t.headers(conn, t.plain)
t.ok(mt.bodystring(conn, "Cheap meds, click here.\r\n") == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom")
t.verdict_headers(conn, "Yes")
t.ok(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "X-Spam-Flag: YES")
t.ok(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] Quarterly report"),
     "Subject tagged")
-- no Subject at all: one is added
t.ok(mt.mailfrom(conn, "<other@example.org>") == nil, "mailfrom 2")
t.reply(conn, SMFIR_CONTINUE, "mailfrom 2")
t.headers(conn, { { "From", "x@example.org" } })
t.ok(mt.eom(conn) == nil, "eom 2")
t.reply(conn, SMFIR_CONTINUE, "eom 2")
t.ok(mt.eom_check(conn, MT_HDRADD, "Subject", "[SPAM]"), "Subject added")
mt.disconnect(conn)
