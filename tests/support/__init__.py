"""What tests share: the isolated test stack, service processes, clients, tokens."""
