From: bob <bob@example.com>
To: you@example.org
Subject: report

The quarterly report is attached.
