# report-spam.sieve - a message copied or moved into Junk is reported as
# spam: a copy of it is piped to gptmilter-report(1), which files it in the
# feedback spool. Run by Dovecot's IMAPSieve (see 90-gptmilter.conf).
require ["vnd.dovecot.pipe", "copy", "imapsieve"];

pipe :copy "gptmilter-report" ["--spam"];
