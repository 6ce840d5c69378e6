"""Fiscal: what checkout adds on top of prices, by the buyer's country: value added tax
(tax classes, rates by country with effective dates, tax-inclusive or exclusive prices per
channel, B2B reverse charge, the tax lines of every order) and shipping (zones by country and
postcode, methods with rate tables by weight, subtotal or items, free-shipping thresholds).
Sits below orders: checkout calls `public.py` synchronously inside its transaction."""
