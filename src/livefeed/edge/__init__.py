"""What comes in: tracking (pixel, click), the website beacon, webhooks (Marketo, Microsoft Graph) and
the mailbox watchers (IMAP, Gmail API, Graph) — parse at the edge, hand over, answer."""
