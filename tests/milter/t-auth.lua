-- t-auth: SMTP-authenticated senders ({auth_authen}) are not scanned
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-auth.conf")
t.ok(mt.conninfo(conn, "client.example", "192.0.2.10") == nil, "conninfo")
t.reply(conn, SMFIR_CONTINUE, "connect")
t.ok(mt.macro(conn, SMFIC_MAIL, "i", "AUTHQ1", "{auth_authen}", "alice") == nil,
     "macro")
t.ok(mt.mailfrom(conn, "<alice@example.org>") == nil, "mailfrom")
t.reply(conn, SMFIR_ACCEPT, "authenticated sender")
mt.disconnect(conn)
