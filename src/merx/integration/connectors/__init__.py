"""Inbound and outbound connectors (the middleware between Merx and ERP/WMS/PIM systems)."""
