"""In-store technology: the store associate app (`/associate`) and the self-service kiosk
(`/kiosk/{store}`): associates bound to stores, assisted orders attributed to a store and an
associate, the pickup hand-over log, counter returns, kiosk sessions and the store reports."""
