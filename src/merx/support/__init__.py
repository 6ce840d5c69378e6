"""Customer service: tickets (email in and out), live chat, SLAs, assignment, follow-ups,
CSAT/NPS, product reviews, feedback statistics and the customer profile canvas."""
