# report-ham.sieve - a message copied or moved out of Junk is reported as
# ham, unless it goes to Trash (deleting spam says nothing about ham).
# Run by Dovecot's IMAPSieve (see 90-gptmilter.conf).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.mailbox" "*" {
	set "mailbox" "${1}";
}
if string :is "${mailbox}" ["Trash", "Deleted Messages", "Junk"] {
	stop;
}
pipe :copy "gptmilter-report" ["--ham"];
