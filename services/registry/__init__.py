"""Who is in the network: countries, agencies, API clients, their tokens and rate budgets, the
secretariat the platform starts from, and the demo network."""
