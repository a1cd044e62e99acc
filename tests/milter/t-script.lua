-- t-script: a message in a script the model saw too few ham of (Cyrillic;
-- its record lists Latin ham only) is never rejected on its score: status
-- Unsure with the script named, no flag; a Latin one is rejected as before
package.path = os.getenv("MT_DIR") .. "/?.lua;" .. package.path
local t = require("common")
local conn = t.start("t-script.conf")
t.begin(conn)
t.headers(conn, {
	{ "From", "Ivan <ivan@example.org>" },
	{ "Subject", "=?utf-8?B?0J7RgtGH0ZHRgiDQt9CwINC60LLQsNGA0YLQsNC7?=" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "text/plain; charset=utf-8" },
	{ "Content-Transfer-Encoding", "8bit" },
})
t.ok(mt.bodystring(conn, "Добрый день! Высылаю отчёт за квартал, " ..
		   "посмотрите, пожалуйста, таблицу с расходами до пятницы. " ..
		   "С уважением, Иван Петрович.\r\n") == nil, "body")
t.ok(mt.eom(conn) == nil, "eom")
t.reply(conn, SMFIR_CONTINUE, "eom: Cyrillic not rejected")
local _, status = t.verdict_headers(conn, "Unsure")
t.ok(string.find(status, " unseen_script=Cyrl", 1, true) ~= nil,
     "X-Spam-Status names the script: " .. status)
t.ok(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no spam flag")
-- the same connection, a Latin message: rejected as the score says
t.ok(mt.mailfrom(conn, "<other@example.org>") == nil, "mailfrom 2")
t.reply(conn, SMFIR_CONTINUE, "mailfrom 2")
t.headers(conn, t.plain)
t.ok(mt.bodystring(conn, "Please find the quarterly report attached.\r\n")
     == nil, "body 2")
t.ok(mt.eom(conn) == nil, "eom 2")
t.reply(conn, SMFIR_REPLYCODE, "eom 2: Latin rejected")
t.ok(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
		  "Message rejected as spam"), "550 5.7.1")
mt.disconnect(conn)
