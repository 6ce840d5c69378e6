"""The staff web console (`/console`) and the demo storefront (`/`): server-rendered pages
that call the other contexts' service functions."""
