"""Orders: carts and checkout, orders with allocation, payments, lifecycle, pickup and returns."""
