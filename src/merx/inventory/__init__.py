"""Inventory: locations (warehouses and stores), stock per SKU and location, its ledger, holds."""
