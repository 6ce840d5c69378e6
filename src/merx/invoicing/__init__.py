"""Invoicing: invoices and credit notes issued from order events (paid or shipped, refunded),
numbered without gaps per series and year, immutable once issued, as PDF; the tax report.
Sits above orders (it consumes orders' events and reads orders.public and fiscal.public)."""
