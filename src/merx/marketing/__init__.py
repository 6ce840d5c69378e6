"""Marketing: what Merx sends to customers (transactional notifications, campaigns, journeys),
when it may send it (send windows, quiet hours, frequency caps, consent from CRM), and what
it brought back (QR scans, clicks, orders attributed to campaigns). CRM stays "who the
customer is"; this context is "what we send them"."""
