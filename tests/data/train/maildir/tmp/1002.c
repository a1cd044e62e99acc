From: tmpuser <tmpuser@example.com>
To: you@example.org
Subject: partial

must not be read
