"""Payments: providers (sessions, authorise/capture/void/refund with idempotency keys), the
payment ledger per order (intents and operations), signed provider webhooks, and bank
statement reconciliation. Sits below orders; orders moves an order's payment state through
the hook in `outcomes.py`."""
