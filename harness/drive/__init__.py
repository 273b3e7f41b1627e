"""How a scenario calls the services: the driver, plans, bad input."""
